"""The model selector: the cheapest model in the tier that clears the threshold."""

from switchtower.select.experiments import assign_arm
from switchtower.select.selector import BetaSelector

__all__ = ["BetaSelector", "assign_arm"]
