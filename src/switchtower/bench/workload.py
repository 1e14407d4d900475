"""The benchmark workload: typed, frozen items with recorded per-model outcomes.

A :class:`WorkloadItem` is one prompt (as chat messages) with the gold operation (used
only to score the classifier), a deadline class, and what every model did on it
(:class:`ModelOutcome`: quality in [0, 1], recorded cost if any, token counts, response).

Everything here is a pure function of the file contents: deadlines come from a hash of
the item id, and files without a split (RouteLLM) are split 50/50 by a hash of the
prompt, so a run is reproducible and a new file of the same format needs no setup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from switchtower.errors import DataFormatError
from switchtower.types import DEADLINES, Deadline, Request

__all__ = [
    "KNOWN_OPERATIONS",
    "DeadlineMix",
    "ModelOutcome",
    "Split",
    "WorkloadItem",
    "gold_operation",
    "hash_split",
    "select_split",
    "slugify",
    "unit_hash",
]

Split = Literal["train", "test"]

#: eval names whose gold operation is known; any other eval name maps to its own slug
#: (see :func:`gold_operation`). Keys are slugs; a key also matches as a prefix
#: (``mmlu-anatomy`` -> ``mmlu``).
KNOWN_OPERATIONS: Mapping[str, str] = {
    "arc-challenge": "answer-question",
    "arc": "answer-question",
    "mmlu": "answer-question",
    "hellaswag": "answer-question",
    "winogrande": "answer-question",
    "mbpp": "write-code",
    "humaneval": "write-code",
    "gsm8k": "solve-math",
    "grade-school-math": "solve-math",
}


def unit_hash(*parts: str) -> float:
    """A stable number in [0, 1) from the sha256 of ``parts`` (no process-level salt)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def slugify(name: str) -> str:
    """``"ARC_Challenge"`` -> ``"arc-challenge"``: lowercase, runs of other chars -> ``-``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "unnamed"


def gold_operation(eval_name: str) -> str:
    """The gold operation for an eval name: the known table, else the slugified name.

    The table is matched on the whole slug, then on ever shorter ``-``-separated prefixes,
    so ``mmlu-anatomy`` is ``answer-question`` while an unseen ``legal-qa`` stays
    ``legal-qa``.
    """
    slug = slugify(eval_name)
    parts = slug.split("-")
    for n in range(len(parts), 0, -1):
        op = KNOWN_OPERATIONS.get("-".join(parts[:n]))
        if op is not None:
            return op
    return slug


def hash_split(prompt: str) -> Split:
    """The fixed 50/50 split for files without one: by the sha256 of the prompt."""
    return "train" if unit_hash("split", prompt) < 0.5 else "test"


@dataclass(frozen=True, slots=True)
class DeadlineMix:
    """Shares of the deadline classes; each item's class comes from a hash of its id."""

    interactive: float = 0.25
    soon: float = 0.25
    batch: float = 0.5

    def __post_init__(self) -> None:
        shares = (self.interactive, self.soon, self.batch)
        if any(s < 0 for s in shares) or abs(sum(shares) - 1.0) > 1e-6:
            raise DataFormatError(f"deadline mix must be >= 0 and sum to 1, got {shares}")

    @classmethod
    def parse(cls, text: str) -> DeadlineMix:
        """``"0.25,0.25,0.5"`` or ``"interactive=0.2,soon=0.3,batch=0.5"``."""
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            if parts and all("=" in p for p in parts):
                values = {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
                unknown = set(values) - set(DEADLINES)
                if unknown:
                    raise DataFormatError(f"unknown deadline classes {sorted(unknown)}")
                return cls(**{k: values.get(k, 0.0) for k in DEADLINES})
            if len(parts) == 3:
                a, b, c = (float(p) for p in parts)
                return cls(a, b, c)
        except ValueError as exc:
            raise DataFormatError(f"bad deadline mix {text!r}: {exc}") from exc
        raise DataFormatError(
            f"bad deadline mix {text!r}: give three shares 'interactive,soon,batch'"
        )

    def assign(self, item_id: str) -> Deadline:
        u = unit_hash("deadline", item_id)
        if u < self.interactive:
            return "interactive"
        if u < self.interactive + self.soon:
            return "soon"
        return "batch"

    def to_json(self) -> dict[str, float]:
        return {"interactive": self.interactive, "soon": self.soon, "batch": self.batch}


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    """What one model did on one item.

    ``cost_usd`` is the recorded real-time cost when the file has one (RouterBench),
    else ``None`` and the tier plan prices the token counts. Token counts come from
    :func:`switchtower.tokens.estimate_tokens`; ``output_tokens`` is 1 where no response
    is recorded.
    """

    quality: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class WorkloadItem:
    """One prompt with its gold operation, deadline class and per-model outcomes."""

    id: str
    messages: tuple[Mapping[str, Any], ...]
    operation: str
    deadline: Deadline
    outcomes: Mapping[str, ModelOutcome]
    dataset: str
    #: the hash split for files without their own split (RouteLLM); ``None`` when the
    #: file itself is a split (RouterBench ``*_train.csv`` / ``*_test.csv``)
    split: Split | None = None
    #: the text the hash split was computed from (the first user turn)
    prompt: str = ""

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.outcomes)

    def request(self, **kwargs: Any) -> Request:
        """The request the pipeline sees: messages and deadline only (never the gold label)."""
        # a benchmark client waits for its batch answers: it takes a deferred answer
        kwargs.setdefault("accept_deferred", True)
        return Request(messages=self.messages, deadline=self.deadline, id=self.id, **kwargs)


def select_split(items: Sequence[WorkloadItem], split: Split) -> list[WorkloadItem]:
    """The items a file contributes to ``split``: all of a split file, else its hash half."""
    return [i for i in items if i.split is None or i.split == split]
