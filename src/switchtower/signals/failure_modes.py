"""The five failure-mode signals, each a score in [0, 1] with quoted evidence.

``compute_failure_modes(text, messages=...)`` is the pure entry point. Rule-based
signals (security, writes, migrations) combine rule weights as independent evidence,
``1 - prod(1 - w_i * m_i)``, keeping the strongest match per rule; ``m_i`` is the
discount of the clause's mode and negation (see ``lexicon.py``).
``long_dependency_chain`` counts sequencing and data-dependency cues;
``missing_repo_context`` lives in ``repo_context.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from switchtower.signals.lexicon import CHAIN, RULES, SAFE_ENV, Rule
from switchtower.signals.repo_context import missing_repo_context
from switchtower.signals.text import Prose, cap, clean, prose_view, snippet, split_code
from switchtower.types import FAILURE_MODES, Signal, message_text

__all__ = [
    "CHAIN_SCALE",
    "MAX_EVIDENCE",
    "compute_failure_modes",
    "dependency_chain",
    "rule_signal",
    "task_text",
]

MAX_EVIDENCE = 4
#: chain cues needed for a score of 1 - 1/e (about 0.63); four cues give ~0.55
CHAIN_SCALE = 5.0

#: how much a match counts, by rule kind and clause mode
_MODE_FACTOR: Mapping[str, Mapping[str, float]] = {
    "action": {"act": 1.0, "explain": 0.3, "hypo": 0.2},
    "topic": {"act": 1.0, "explain": 0.45, "hypo": 0.6},
    "judge": {"act": 1.0, "explain": 1.0, "hypo": 0.8},
}
#: an action on a staging / local / dry-run target counts this much
_SAFE_ENV_FACTOR = 0.3
#: security vocabulary inside attached code counts this much
_CODE_FACTOR = 0.6

_NEGATION = re.compile(
    r"\b(?:don'?t|do not|does not|doesn'?t|never|not|no|without|avoid|nor|shouldn'?t|"
    r"must not|mustn'?t|won'?t|cannot|can'?t|instead of|rather than|except|no need to|"
    r"refrain from|stop|prevent\w*|block\w*|forbid\w*|disallow\w*)\b"
)
_EXCLUSION = re.compile(
    r"(?:\b(?:don'?t|do not|never|without|avoid|no need to|not)\s+(?:\w+\s+){0,2}"
    r"(?:touch|chang|modif|edit|alter|updat|affect|involv|mess|worry)\w*|\bunrelated to|"
    r"\bnothing to do with|\bnot related to|\bother than|\bexcept(?: for)?|\bexcluding|"
    r"\bno changes? to|\bleave (?:the |our )?(?:\w+ ){0,2}alone)[^.;\n]*$"
)
_NUMBERED = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|step \d+[:.)]?)\s+\S")
_ACT_VERB = re.compile(
    r"(?m)(?:^|[.;:]\s+|\band (?:then )?)(?:please )?(?:add|build|change|check|clone|compile|"
    r"configure|create|deploy|fetch|find|fix|generate|implement|install|load|merge|move|"
    r"open|parse|push|read|refactor|remove|rename|replace|rerun|run|scan|set up|setup|"
    r"split|start|tag|test|update|upload|validate|verify|write|collect|compute|extract|"
    r"filter|group|join|aggregate|export|import|download|train|evaluate|compare|summari[sz]e|"
    r"send|notify|open a pr|bump|rebase|release|publish)\b"
)


def task_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The text whose intent counts: user messages (all text if there is no user turn)."""
    users: list[str] = []
    others: list[str] = []
    for m in messages:
        if not isinstance(m, Mapping):
            continue
        t = message_text(m)
        if not t:
            continue
        (users if m.get("role") == "user" else others).append(t)
    return "\n".join(users) if users else "\n".join(others)


def _factor(rule: Rule, prose: Prose, m: re.Match[str]) -> float:
    start = m.start()
    cstart, cend = prose.clause_span(start)
    prefix = prose.text[max(cstart, start - 60) : start]
    if _EXCLUSION.search(prefix):
        return 0.0
    factor = _MODE_FACTOR[rule.kind][prose.mode_at(start)]
    if rule.kind == "action":
        near = prefix[-32:].rsplit(",", 1)[-1]
        if _NEGATION.search(near):
            return 0.0
        clause = prose.text[cstart:cend]
        if SAFE_ENV.search(clause) and not re.search(r"\bprod(?:uction)?\b", clause):
            factor *= _SAFE_ENV_FACTOR
    return factor


def rule_signal(name: str, rules: Sequence[Rule], prose: Prose, code: Sequence[str] = ()) -> Signal:
    """Score ``prose`` (and, at a discount, attached ``code``) against ``rules``."""
    best: dict[str, tuple[float, str]] = {}
    for rule in rules:
        for m in rule.pattern.finditer(prose.text):
            w = rule.weight * _factor(rule, prose, m)
            if w > best.get(rule.name, (0.0, ""))[0]:
                best[rule.name] = (w, snippet(prose.text, m.start(), m.end()))
        for block in code:
            if rule.kind == "action":
                continue
            m2 = rule.pattern.search(block.lower())
            w = rule.weight * _CODE_FACTOR
            if m2 and w > best.get(rule.name, (0.0, ""))[0]:
                best[rule.name] = (w, "code: " + snippet(m2.string, m2.start(), m2.end()))
    return _combine(name, best)


def _combine(name: str, best: Mapping[str, tuple[float, str]]) -> Signal:
    keep = 1.0
    for w, _ in best.values():
        keep *= 1.0 - min(max(w, 0.0), 1.0)
    ranked = sorted(best.values(), key=lambda x: -x[0])
    evidence = tuple(f"{ev!r}" for w, ev in ranked[:MAX_EVIDENCE] if w > 0.0)
    return Signal(name=name, score=round(1.0 - keep, 4), evidence=evidence)


def dependency_chain(prose: Prose, raw: str) -> Signal:
    """``long_dependency_chain``: sequencing / data-dependency cues, numbered steps and
    distinct action verbs, squashed as ``1 - exp(-cues / CHAIN_SCALE)``."""
    cues = 0.0
    evidence: list[str] = []
    for rule in CHAIN:
        for m in rule.pattern.finditer(prose.text):
            mode = prose.mode_at(m.start())
            cues += rule.weight * (0.5 if mode != "act" else 1.0)
            if len(evidence) < MAX_EVIDENCE:
                evidence.append(repr(snippet(prose.text, m.start(), m.end())))
    numbered = len(_NUMBERED.findall(raw))
    if numbered >= 3:
        cues += 0.5 * numbered
        evidence.append(f"{numbered} numbered steps")
    verbs = {m.group(0).split()[-1] for m in _ACT_VERB.finditer(prose.text)}
    if len(verbs) >= 4:
        cues += 0.5 * (len(verbs) - 3)
        evidence.append(f"{len(verbs)} distinct action verbs")
    score = 1.0 - math.exp(-cues / CHAIN_SCALE)
    return Signal("long_dependency_chain", round(score, 4), tuple(evidence[: MAX_EVIDENCE + 1]))


def compute_failure_modes(
    text: str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    *,
    head_chars: int | None = None,
    tail_chars: int | None = None,
) -> dict[str, Signal]:
    """The five failure-mode signals of a request given as ``text`` or chat ``messages``.

    With ``messages``, intent is read from the user turns and attached code from every
    turn; ``text`` alone is treated as one user message. Never raises on odd input.
    """
    msgs: list[Mapping[str, Any]] = list(messages or ())
    if text is not None and not msgs:
        msgs = [{"role": "user", "content": text}]
    kw: dict[str, int] = {}
    if head_chars is not None:
        kw["head"] = head_chars
    if tail_chars is not None:
        kw["tail"] = tail_chars
    task = cap(clean(task_text(msgs)), **kw)
    prose_raw, code = split_code(task)
    prose = prose_view(prose_raw)
    out: dict[str, Signal] = {
        "missing_repo_context": missing_repo_context(prose_raw, prose, msgs, **kw),
        "long_dependency_chain": dependency_chain(prose, prose_raw),
    }
    for name, rules in RULES.items():
        out[name] = rule_signal(name, rules, prose, code if name == "security_sensitive" else ())
    return {name: out[name] for name in FAILURE_MODES}
