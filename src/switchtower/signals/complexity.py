"""Complexity: a score in [0, 1] from documented surface features of the request.

``score = sum(weight_f * feature_f)``, each feature in [0, 1]:

============  ======  ===========================================================
feature       weight  value
============  ======  ===========================================================
length        0.25    ``log2(1 + tokens / 50) / 6`` capped at 1 (3,200 tokens -> 1)
requirements  0.20    (list items + "must/should/ensure/make sure/needs to") / 8
code          0.10    0.3 if code is attached, plus attached lines / 150
constraints   0.15    ("without", "only", "at most", "O(n)", "backward compatible"...) / 5
questions     0.05    (question marks - 1) / 4
steps         0.10    distinct action verbs / 8
hard topics   0.15    (concurrency, distributed, optimise, prove, design, debug...) / 3
============  ======  ===========================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from switchtower.signals.prefilter import gated, line_starts, scan_at
from switchtower.signals.text import cap, clean, split_code
from switchtower.tokens import estimate_message_tokens, estimate_tokens
from switchtower.types import Signal

__all__ = ["COMPLEXITY_WEIGHTS", "complexity"]

COMPLEXITY_WEIGHTS: Mapping[str, float] = {
    "length": 0.25,
    "requirements": 0.20,
    "code": 0.10,
    "constraints": 0.15,
    "questions": 0.05,
    "steps": 0.10,
    "hard": 0.15,
}

_ITEMS = re.compile(r"(?m)^\s*(?:[-*•]|\d{1,2}[.)]|[a-z][.)])\s+\S")
_REQUIRE = gated(
    r"\b(?:must|should|shall|ensure|make sure|needs? to|has to|have to|required?|"
    r"requirements?)\b"
)
_CONSTRAINT = gated(
    r"\b(?:without|only|at most|at least|no more than|no less than|within|exactly|"
    r"must not|never|backwards?[- ]compatible|thread[- ]safe|idempotent|in place|"
    r"constant (?:time|memory)|o\([^)]{1,12}\)|latency|memory limit|deadline|"
    r"edge cases?|corner cases?|unicode|timezones?|concurrently|atomic(?:ally)?)\b"
)
_VERBS = gated(
    r"\b(?:add|build|change|configure|create|design|fix|implement|migrate|refactor|remove|"
    r"rename|replace|rewrite|test|update|write|deploy|optimi[sz]e|debug|document|validate|"
    r"parse|convert|integrate|profile|benchmark|port|split|merge|extract|generate|analy[sz]e|"
    r"compare|evaluate|review|investigate|reproduce)\b"
)
_HARD = gated(
    r"\b(?:concurren\w+|race conditions?|deadlocks?|distributed|consensus|multi-?thread\w*|"
    r"async\w*|optimi[sz]\w+|performance|scalab\w+|prove|proof|invariants?|formal|"
    r"algorithm\w*|complexity|architect\w*|design (?:a|the) system|trade-?offs?|debug\w*|"
    r"root cause|memory leaks?|reverse[- ]engineer\w*|cryptograph\w+|compiler|parser|"
    r"numerical|floating[- ]point|recursion|dynamic programming|graph|np-hard)\b"
)


def _feature_values(text: str, code: str, tokens: int) -> dict[str, tuple[float, str]]:
    low = text.lower()
    items = sum(1 for _ in scan_at(_ITEMS, text, line_starts(text)))
    reqs = items + _REQUIRE.count(low)
    cons = _CONSTRAINT.matched(low)
    questions = text.count("?")
    verbs = set(_VERBS.matched(low))
    hard = sorted(set(_HARD.matched(low)))
    code_lines = code.count("\n") + (1 if code else 0)
    return {
        "length": (min(1.0, math.log2(1 + tokens / 50) / 6), f"~{tokens} tokens"),
        "requirements": (min(1.0, reqs / 8), f"{reqs} requirements/list items"),
        "code": (
            min(1.0, (0.3 if code else 0.0) + code_lines / 150),
            f"{code_lines} lines of code attached",
        ),
        "constraints": (min(1.0, len(cons) / 5), f"{len(cons)} constraints"),
        "questions": (min(1.0, max(0, questions - 1) / 4), f"{questions} questions"),
        "steps": (min(1.0, len(verbs) / 8), f"{len(verbs)} distinct action verbs"),
        "hard": (min(1.0, len(hard) / 3), "hard topics: " + ", ".join(hard[:3])),
    }


def complexity(
    text: str,
    *,
    code: str | None = None,
    tokens: int | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
) -> Signal:
    """Complexity of a task given its prose ``text`` (code blocks are split out when
    ``code`` is not given); ``tokens`` defaults to the estimate over ``messages`` or text.
    """
    full = text or ""
    if tokens is None:
        # the length feature reads the whole request, not the scanned cap
        tokens = estimate_message_tokens(messages) if messages is not None else None
    text = clean(cap(full))
    if code is None:
        text, blocks = split_code(text)
        code = "\n".join(blocks)
    if tokens is None:
        tokens = estimate_tokens(full)
    feats = _feature_values(text, code, tokens)
    score = sum(COMPLEXITY_WEIGHTS[k] * v for k, (v, _) in feats.items())
    ranked = sorted(feats.items(), key=lambda kv: -COMPLEXITY_WEIGHTS[kv[0]] * kv[1][0])
    evidence = tuple(ev for _, (v, ev) in ranked if v > 0)[:4]
    return Signal("complexity", round(min(1.0, max(0.0, score)), 4), evidence)
