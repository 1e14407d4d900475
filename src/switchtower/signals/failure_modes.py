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

from switchtower.signals.lexicon import (
    CHAIN,
    DRY_RUN,
    IMPERATIVE_RULES,
    RULE_INDEX,
    RULES,
    SAFE_ENV,
    VERSION_JUMP,
    Rule,
)
from switchtower.signals.prefilter import (
    alternation,
    gated,
    line_starts,
    occurrences,
    scan_at,
    word_starts,
)
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
#: matches of one rule looked at (bounded work on huge, repetitive inputs)
_MAX_MATCHES = 32
#: chain cues needed for a score of 1 - 1/e (about 0.63); three cues give ~0.53
CHAIN_SCALE = 4.0

#: how much a match counts, by rule kind and clause mode
_MODE_FACTOR: Mapping[str, Mapping[str, float]] = {
    "action": {"act": 1.0, "explain": 0.3, "hypo": 0.2},
    "topic": {"act": 1.0, "explain": 0.3, "hypo": 0.5},
    "judge": {"act": 1.0, "explain": 1.0, "hypo": 0.8},
}
#: an action on a staging / local / dry-run target counts this much
_SAFE_ENV_FACTOR = 0.3
#: security vocabulary inside attached code counts this much
_CODE_FACTOR = 0.6
#: deleting a construct of code (a branch of an if, a key of a dict) counts this much
_CODE_EDIT_FACTOR = 0.3

_NEGATION = re.compile(
    r"\b(?:don'?t|do not|does not|doesn'?t|never|not|no|without|avoid|nor|shouldn'?t|"
    r"must not|mustn'?t|won'?t|cannot|can'?t|instead of|rather than|except|no need to|"
    r"refrain from|stop|prevent\w*|block\w*|forbid\w*|disallow\w*)\b"
)
#: "can deploy", "allowed to delete": a capability, not an instruction
_CAPABILITY = re.compile(
    r"\b(?:can|could|may|might|able to|allowed to|permitted to|only|who|whether)\s+(?:\w+\s+)?$"
)
#: "the delete button", "a deploy script": the verb used as a noun or adjective
_NOMINAL = re.compile(r"\b(?:the|a|an|this|that|our|my|your|its|their|each|every)\s+$")
#: where an instruction's verb stands: clause start or after a connective / subject
_IMPERATIVE_PREFIX = re.compile(
    r"(?:^|\b(?:and|then|please|to|also|now|just|that|which|you|we|i|must|should|will|"
    r"first|finally|next|immediately|right now|go ahead and|need|needs)|[,:;(\u2013\u2014-]|"
    r"\b(?:bulk|mass|batch|hard|force)[- ]?)\s*$"
)
_POLITE_PREFIX = re.compile(r"^[\W\d]*(?:(?:hey|hi|ok|okay|so|please|pls|kindly)[,:]?\s+)*$")
#: cosmetic UI work on a login page is not security work
_COSMETIC = re.compile(
    r"\b(?:colou?r|spinner|style|css|wider|narrower|taller|font|responsive|placeholder|"
    r"label|icon|padding|margin|align\w*|animation|bold|theme|dark mode|layout|button|"
    r"translation|copy text|tooltip)\b"
)
_EXCLUSION = re.compile(
    r"(?:\b(?:don'?t|do not|never|without|avoid|no need to|not)\s+(?:\w+\s+){0,2}"
    r"(?:touch|chang|modif|edit|alter|updat|affect|involv|mess|worry)\w*|\bunrelated to|"
    r"\bnothing to do with|\bnot related to|\bother than|\bexcept(?: for)?|\bexcluding|"
    r"\bno changes? to|\bleave (?:the |our )?(?:\w+ ){0,2}alone)[^.;\n]*$"
)
#: what a "delete" / "remove" acts on when it edits code, not data or infrastructure:
#: branches of a conditional, log lines, or anything taken out of a code container
_CODE_EDIT = re.compile(
    r"\b(?:duplicat\w*|redundant|nested|if/else|if-else|else|conditional|dead|unreachable|"
    r"switch|case|empty) branch(?:es)?\b|"
    r"\b(?:debug|log(?:ging)?|print|console|trace) (?:messages?|statements?|lines?|calls?)\b|"
    r"\b(?:from|in|inside|of) (?:the |this |that |my |our |a |each |every )?(?:\w+ ){0,2}"
    r"(?:dict(?:ionary)?|list|array|tuple|function|method|class|module|code|snippet|"
    r"script|string|struct|hash ?map|object literal|json|yaml|dataframe|data ?frame|df|"
    r"loop|parser|regex|component|template|config file|settings file|source file)\b"
)
#: the request says an upgrade breaks things
_BREAKING = re.compile(
    r"\b(?:deprecat\w*|breaking|removed apis?|incompatib\w*|end[- ]of[- ]life|eol)\b"
)
_PROD_WORD = re.compile(r"\b(?:prod(?:uction)?|live)\b")
_NUMBERED = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|step \d+[:.)]?)\s+\S")
_BACK_REF = gated(
    r"\b(?:it|them|those|these|each(?: one)?|the result\w*|the output|that|its|their)\b"
)
#: the verbs of an imperative step (``_ACT_VERB``)
_STEP_VERBS = (
    "add", "build", "change", "check", "clone", "compile", "configure", "create", "deploy",
    "fetch", "find", "fix", "generate", "implement", "install", "load", "merge", "move",
    "open", "parse", "push", "read", "refactor", "remove", "rename", "replace", "rerun",
    "run", "scan", "set up", "setup", "split", "start", "tag", "test", "update", "upload",
    "validate", "verify", "write", "collect", "compute", "extract", "filter", "group",
    "join", "aggregate", "export", "import", "download", "train", "evaluate", "compare",
    "summari[sz]e", "send", "notify", "bump", "rebase", "release", "publish", "pull",
    "cluster", "clean", "wait", "point", "decommission", "identify", "optimi[sz]e",
    "profile", "flash", "confirm", "bisect", "reproduce", "map", "sum", "assign", "turn",
    "translate", "have", "look", "search", "get", "query", "scrape", "normali[sz]e",
    "retrain", "resolve", "rebuild", "restore", "label", "use", "inventory", "figure",
    "estimate", "take", "consume", "transform", "connect", "match", "flag", "draft",
    "decide", "measure", "break", "wire", "apply", "enumerate", "trigger", "deactivate",
    "email", "post", "propose", "calculate", "dedupe", "deduplicate", "sort", "rank",
    "pick", "select", "choose", "review", "approve", "schedule", "report", "record",
    "annotate", "classify", "score", "plot", "chart", "visuali[sz]e", "sync", "restart",
    "stop", "kill", "retry", "poll", "monitor", "watch", "ask", "tell", "share", "attach",
    "archive", "backup", "back up", "snapshot", "provision", "spin up", "tear down", "set",
    "mark", "close", "link", "lint", "format", "package", "sign", "encrypt", "decrypt",
    "hash", "migrate", "backfill", "switch", "drop", "delete", "truncate",
)  # fmt: skip
_ACT_VERB = re.compile(
    r"(?m)(?:^|[.;:,]\s+|\band (?:then )?|\bthen |\d[.)]\s+)(?:please )?(?:re-?)?"
    + alternation(_STEP_VERBS)
    + r"\b"
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
    clause = prose.text[cstart:cend]
    if rule.kind == "action":
        near = prefix[-32:].rsplit(",", 1)[-1]
        if _NEGATION.search(near) or _CAPABILITY.search(near) or _NOMINAL.search(near):
            return 0.0
        if (
            rule.name in IMPERATIVE_RULES
            and not _POLITE_PREFIX.match(prefix)
            and not _IMPERATIVE_PREFIX.search(prefix)
        ):
            return 0.0
        # a dry run of this action ("run the job against prod with --dry-run", "dry-run
        # the migration"), not one that came before it ("dry run looked fine, run it")
        dry = DRY_RUN.search(prose.text, max(cstart, start - 12), cend)
        if (dry is not None and dry.start() >= start - 12) or (
            SAFE_ENV.search(clause) and not re.search(r"\bprod(?:uction)?\b", clause)
        ):
            factor *= _SAFE_ENV_FACTOR
        if (
            rule.name == "destroy-data"
            and _CODE_EDIT.search(clause)
            and not _PROD_WORD.search(clause)
        ):
            factor *= _CODE_EDIT_FACTOR
    return factor


def _topic_context(name: str, clause: str) -> float:
    """Discounts that depend on the signal: cosmetic UI work is not security work, and
    a migration of a fresh / local / test database risks nothing."""
    if name == "security_sensitive" and _COSMETIC.search(clause):
        return 0.3
    if name == "risky_migration" and SAFE_ENV.search(clause):
        return _SAFE_ENV_FACTOR
    return 1.0


def rule_signal(name: str, rules: Sequence[Rule], prose: Prose, code: Sequence[str] = ()) -> Signal:
    """Score ``prose`` (and, at a discount, attached ``code``) against ``rules``."""
    best: dict[str, tuple[float, str]] = {}
    lowered = [block.lower() for block in code]
    present: Sequence[list[str] | None] = [None] * len(rules)
    if name in RULES and RULES[name] is rules:  # its prefixes are looked up all at once
        present = RULE_INDEX[name].present(word_starts(prose.text))
    for rule, rule_present in zip(rules, present, strict=True):
        for n, m in enumerate(rule.finditer(prose.text, rule_present)):
            if n >= _MAX_MATCHES or best.get(rule.name, (0.0, ""))[0] >= rule.weight:
                break
            w = rule.weight * _factor(rule, prose, m)
            if w > 0.0 and rule.kind != "action":
                cstart, cend = prose.clause_span(m.start())
                w *= _topic_context(name, prose.text[cstart:cend])
            if w > best.get(rule.name, (0.0, ""))[0]:
                best[rule.name] = (w, snippet(prose.text, m.start(), m.end()))
        for block in lowered:
            if rule.kind == "action":
                continue
            m2 = next(rule.finditer(block), None)  # pattern.search(block)
            w = rule.weight * _CODE_FACTOR
            if m2 and w > best.get(rule.name, (0.0, ""))[0]:
                best[rule.name] = (w, "code: " + snippet(m2.string, m2.start(), m2.end()))
    if name == "risky_migration":
        jump = _version_jump(prose)
        if jump is not None:
            best["version-jump"] = jump
    return _combine(name, best)


def _version_jump(prose: Prose) -> tuple[float, str] | None:
    """A major-version upgrade ("from 3.2 to 4.2", "0.68 to 0.73", "v1 ... v2"), or a
    minor one the request itself calls breaking ("1.26 to 1.29 ... deprecated APIs")."""
    for m in VERSION_JUMP.finditer(prose.text):
        old_major, old_minor, new_major, new_minor = m.groups()
        major_change = old_major != new_major
        zero_minor = old_major == new_major == "0" and old_minor != new_minor
        breaking_minor = (
            not major_change
            and old_minor is not None
            and new_minor is not None
            and int(new_minor) > int(old_minor)
            and _BREAKING.search(prose.text) is not None
        )
        if (major_change and int(new_major) > int(old_major)) or zero_minor or breaking_minor:
            w = 0.65 * _MODE_FACTOR["topic"][prose.mode_at(m.start())]
            return w, snippet(prose.text, m.start(), m.end())
    return None


def _combine(name: str, best: Mapping[str, tuple[float, str]]) -> Signal:
    keep = 1.0
    for w, _ in best.values():
        keep *= 1.0 - min(max(w, 0.0), 1.0)
    ranked = sorted(best.values(), key=lambda x: -x[0])
    evidence = tuple(f"{ev!r}" for w, ev in ranked[:MAX_EVIDENCE] if w > 0.0)
    return Signal(name=name, score=round(1.0 - keep, 4), evidence=evidence)


def _act_verb_starts(text: str) -> list[int]:
    """Every position where an ``_ACT_VERB`` match can start: a line start, one of
    ``.;:,`` before white space, a digit before ``.`` or ``)`` and white space, or
    "and " / "then " (``str.isspace`` / ``str.isdecimal`` are ``\\s`` / ``\\d``)."""
    found = set(line_starts(text))
    found.update(occurrences(text, ("and ", "then ")))
    for i in occurrences(text, (".", ";", ":", ",", ")")):
        if text[i + 1 : i + 2].isspace():
            if text[i] != ")":
                found.add(i)
            if i and text[i] in ".)" and text[i - 1].isdecimal():
                found.add(i - 1)
    return sorted(found)


def dependency_chain(prose: Prose, raw: str) -> Signal:
    """``long_dependency_chain``: sequencing / data-dependency cues, numbered steps and
    distinct action verbs, squashed as ``1 - exp(-cues / CHAIN_SCALE)``."""
    cues = 0.0
    evidence: list[str] = []
    for rule in CHAIN:
        for m in rule.finditer(prose.text):
            mode = prose.mode_at(m.start())
            cues += rule.weight * (0.5 if mode != "act" else 1.0)
            if len(evidence) < MAX_EVIDENCE:
                evidence.append(repr(snippet(prose.text, m.start(), m.end())))
    numbered = sum(1 for _ in scan_at(_NUMBERED, raw, line_starts(raw)))
    if numbered >= 3:
        cues += 0.5 * numbered
        evidence.append(f"{numbered} numbered steps")
    # steps asked for count in full; steps of a process being explained or written
    # about ("write a paragraph that walks through ...: build, push, deploy") count half
    found = [m.start() for m in scan_at(_ACT_VERB, prose.text, _act_verb_starts(prose.text))]
    steps = len(found)
    weighted = sum(1.0 if prose.mode_at(i) == "act" else 0.5 for i in found)
    if weighted >= 3:
        cues += weighted - 2
        evidence.append(f"{steps} imperative steps")
        # later steps that point back at earlier results ("fix it", "for each one")
        refs = _BACK_REF.count(prose.text)
        if refs:
            cues += min(2.0, 0.5 * refs)
            evidence.append(f"{refs} references to earlier results")
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
    task = clean(cap(task_text(msgs), **kw))
    prose_raw, code = split_code(task)
    prose = prose_view(prose_raw)
    out: dict[str, Signal] = {
        "missing_repo_context": missing_repo_context(prose_raw, prose, msgs, **kw),
        "long_dependency_chain": dependency_chain(prose, prose_raw),
    }
    for name, rules in RULES.items():
        out[name] = rule_signal(name, rules, prose, code if name == "security_sensitive" else ())
    return {name: out[name] for name in FAILURE_MODES}
