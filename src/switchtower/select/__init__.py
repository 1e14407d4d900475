"""The model selector: the cheapest model in the tier that clears the threshold."""

from switchtower.select.experiments import ArmStats, arm_stats, assign_arm, wilson_interval
from switchtower.select.selector import BetaSelector

__all__ = ["ArmStats", "BetaSelector", "arm_stats", "assign_arm", "wilson_interval"]
