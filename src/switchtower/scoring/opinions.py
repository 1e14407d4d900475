"""The ``second-opinion`` scorer: a second opinion's verdict on the answer it checked.

When a cheap answer was checked against other models' answers (``verify/``), the
verdict says something about it: ``agree`` (another model gave the same final answer,
none another) counts as a success of the checked model, ``disagree`` as a failure
(the request was escalated because of it). Only the checked model's own answer is
scored: an escalated answer was not checked, and ``unverified`` says nothing.
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
        if v is None or v.verdict == "unverified" or completion.model != v.checked:
            return None
        peers = ", ".join(v.peers) or "a peer"
        if v.verdict == "agree":
            return Outcome(success=True, comment=f"{peers} gave the same answer", source=self.name)
        return Outcome(success=False, comment=f"{peers} gave another answer", source=self.name)
