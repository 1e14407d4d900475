"""Register the built-in outcome scorers (imported by ``plugins.load_builtins``)."""

from __future__ import annotations

from switchtower.config.schema import Config
from switchtower.registries import scorers
from switchtower.scoring.contract import ContractScorer
from switchtower.scoring.opinions import SecondOpinionScorer

__all__ = ["ContractScorer", "SecondOpinionScorer"]


def _contract(*, config: Config | None = None) -> ContractScorer:
    """Registry factory (no options)."""
    del config
    return ContractScorer()


def _second_opinion(*, config: Config | None = None) -> SecondOpinionScorer:
    """Registry factory (no options)."""
    del config
    return SecondOpinionScorer()


scorers.add("contract", _contract)
scorers.add("second-opinion", _second_opinion)
