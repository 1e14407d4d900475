"""The ``second-opinion`` scorer: what a second opinion showed about the answer.

When a cheap answer was checked against other models' answers (``verify/``):

- ``agree`` (another model gave the same final answer, none another): a success of the
  checked model;
- ``disagree`` with no escalated answer (the escalation failed, the cheap answer
  stood): a failure of the checked model;
- ``disagree`` and escalated: the escalated answer is the one served. When it gave the
  checked model's or a differing peer's final answer (``sided_with``), two models agree
  on it: a success of the escalation model. Otherwise it is not scored.

``unverified`` says nothing. What an escalation shows about the *checked* model (right
when the escalation sided with it, wrong when it sided with a peer) is not this trace's
answer; the nightly loop learns it from ``decision.verification``
(``nightly/scoring.py``).
"""

from __future__ import annotations

from switchtower.types import Completion, Outcome, Request

__all__ = ["SecondOpinionScorer"]


class SecondOpinionScorer:
    """:class:`~switchtower.types.Verification` verdicts as outcomes."""

    name = "second-opinion"

    def score(self, request: Request, completion: Completion) -> Outcome | None:
        del request
        v = completion.verification
        if v is None or v.verdict == "unverified":
            return None
        peers = ", ".join(v.peers) or "a peer"
        if completion.model == v.checked:
            if v.verdict == "agree":
                return Outcome(True, comment=f"{peers} gave the same answer", source=self.name)
            return Outcome(False, comment=f"{peers} gave another answer", source=self.name)
        if v.escalated_to == completion.model and v.sided_with is not None:
            whose = v.checked if v.sided_with == "checked" else peers
            why = f"escalated answer matched {whose}'s"
            return Outcome(True, comment=why, source=self.name)
        return None
