"""A selection served from recorded outcomes, second opinions included.

The threshold and value sweeps re-decide each item without calling the pipeline; this
plays what :func:`switchtower.verify.run.execute_checked` does against the replay:
the chosen model's recorded response is compared with each peer's
(:func:`switchtower.verify.answers.agreement`), and a disagreement is answered by the
first escalation model. Every answer paid for counts in the cost; as in the pipeline,
the peers are asked only when the chosen answer has a final answer, unless ``parallel``.
"""

from __future__ import annotations

import dataclasses

from switchtower.bench.baselines import serve
from switchtower.bench.metrics import Served
from switchtower.bench.tiers import TierPlan
from switchtower.bench.workload import WorkloadItem
from switchtower.types import Selection
from switchtower.verify.answers import agreement, final_answer

__all__ = ["serve_selection"]


def serve_selection(
    item: WorkloadItem,
    selection: Selection,
    plan: TierPlan,
    operation: str = "",
    *,
    parallel: bool = False,
) -> Served:
    """``item`` served as ``selection`` says, from its recorded outcomes (``parallel``:
    ``verify.parallel``, the peers are paid even when the answer cannot be compared)."""
    chosen = plan.slot(selection.model)
    served = serve(item, chosen, plan, operation)
    if not selection.second_opinions or not selection.escalation:
        return served
    text = item.outcomes[chosen.model].response or ""
    if not parallel and final_answer(text) is None:
        return served
    spent = served.cost_usd
    verdicts = []
    for name in selection.second_opinions:
        peer = plan.slot(name)
        spent += plan.cost(item, peer.model, peer.tier)
        verdicts.append(agreement(text, item.outcomes[peer.model].response or ""))
    if False not in verdicts:
        return dataclasses.replace(served, cost_usd=spent)
    better = serve(item, plan.slot(selection.escalation[0]), plan, operation)
    return dataclasses.replace(better, cost_usd=spent + better.cost_usd)
