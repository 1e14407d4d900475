"""The fast scans give exactly what the plain regular-expression scans give.

Every optimisation of the signals stage (prefix-started scans, the per-text word index,
candidate starts, run windows, the hypothetical-clause gate) must return the same matches as
``pattern.finditer`` on any text, so the signals cannot change. Texts mix the rules'
vocabulary, punctuation, code-like tokens and non-ASCII characters, short and long.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from switchtower.signals import attached, failure_modes, prefilter, repo_context, text
from switchtower.signals.complexity import complexity
from switchtower.signals.failure_modes import compute_failure_modes
from switchtower.signals.lexicon import CHAIN, RULE_INDEX, RULES, Rule
from switchtower.signals.prefilter import Gated, line_starts, scan_at

# the package exports the function ``complexity`` under the module's name
complexity_mod = importlib.import_module("switchtower.signals.complexity")
ALL_RULES: list[Rule] = [r for rules in RULES.values() for r in rules] + list(CHAIN)
GATED: list[Gated] = [
    v
    for mod in (complexity_mod, failure_modes, repo_context, text)
    for v in vars(mod).values()
    if isinstance(v, Gated)
]

TOKENS = [
    "deploy", "the", "then", "prod", "production", "migrate", "migration", "from", "mysql",
    "to", "postgres", "drop", "table", "users", "delete", "send", "email", "customers",
    "auth", "token", "api", "key", "password", "first", "after", "that", "once", "it",
    "this", "function", "our", "codebase", "line", "42", "pr", "#12", "in", "the repo",
    "src/app.py", "app.py", "foo_bar", "FooBar", "parseConfig", "parse_config()",
    "db.query(request.args['id'])", "`RetryPolicy`", "`x`", "GET", "/api/v1/users",
    "POST /documents/{id}", ".env", "Dockerfile", "Makefile", "package.json", "1.", "2)",
    "step 3:", "- item", "* item", "must", "should", "without", "o(n)", "race condition",
    "DELETE FROM", "SELECT * FROM t", "rm -rf", "--force", "force-push", "git push",
    "handler", "module", "<module>", "sync_accounts job", "os.path", "v1", "3.2", "4.2",
    "upgrade", "switch", "and then", "however", "but", "what if", "explain", "can you",
    "\n", "\n\n", ",", ".", ";", ":", "?", "!", "(", ")", "$", "-", "/", "_", "'", '"',
    "é", "İ", "ß", "—", "“", "…", "日本", "\u00a0", "\t", "x.509", "re-hash", "api_key",
]  # fmt: skip

pieces = st.sampled_from(TOKENS) | st.text(max_size=8)
texts = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)),
    st.lists(pieces, max_size=160),
    st.lists(st.sampled_from([" ", " ", "", "\n", ", "]), min_size=160, max_size=160),
)


def spans(ms: Iterator[re.Match[str]] | list[re.Match[str]]) -> list[tuple[int, int, tuple]]:
    return [(m.start(), m.end(), m.groups()) for m in ms]


@settings(max_examples=300, deadline=None)
@given(texts)
def test_rule_scans_equal_finditer(t: str) -> None:
    for low in (t, t.lower()):
        for rule in ALL_RULES:
            assert spans(rule.finditer(low)) == spans(rule.pattern.finditer(low)), rule.name
        for g in GATED:
            assert spans(g.finditer(low)) == spans(g.pattern.finditer(low)), g.pattern.pattern
            assert g.may_match(low) or not g.pattern.search(low), g.pattern.pattern


@settings(max_examples=300, deadline=None)
@given(texts)
@example("the auth token in prod: drop table users, then force-push; in theory should we")
def test_rule_index_finds_what_each_rule_looks_up(t: str) -> None:
    for low in (t, t.lower()):
        words = prefilter.WordStarts(low)
        for name, rules in RULES.items():
            together = RULE_INDEX[name].present(words)
            for rule, got in zip(rules, together, strict=True):
                want = [] if rule.starts is None else words.present(rule.starts)
                assert sorted(got) == sorted(want), rule.name


@settings(max_examples=300, deadline=None)
@given(texts)
@example("x db.query(request.args['id']) and f(a)(b) then `g`(x, y) z")
@example("see src/app.py, ./lib/x.ts and a-.env or Cargo.toml; end. next.py")
@example("the foo_bar_baz and FooBar then parseConfig() or sync_accounts job")
@example("a.b handlers, x_y `Tests` q.r Type, a_b types and c.d typed, e_f  test")
@example("x handler_a.b function, a.b handlersX c_d `e.f` method g.h tests. i_j prop")
@example("the handler: a.b handlersX and c.d typesY, type")
@example("fooBar xfooBar fooBarBaz FooBar foo日Bar fooBAR é1Xa barX")
@example("the handler, fooBar handler x.y job `a_b` task sync_É test 12 type ÉtatX class")
@example("a.args x.pyc -.env .env.local e.g. Cargo.toml b.c.py docs/x a.r. q.ymlx y.yml-")
@example("f(g(x)) a.b(c) $x(1) 1a(2) x.(3) y(\n) z(" + "a" * 40 + ") w(" + "b" * 39 + ")")
@example("x.yaml y.htm .html z.yml a.zshrc b.r c.R d.PY e.pyi f.pyc g.yamlx .bashrc.d é.md")
def test_window_scans_equal_finditer(t: str) -> None:
    rev = t[::-1]
    rc = repo_context
    assert spans(rc._path_matches(t, rev)) == spans(rc._PATH.finditer(t))
    assert spans(rc._call_matches(t, rev)) == spans(rc._CALL.finditer(t))
    snake = rc._word_matches(rc._SNAKE, t, rev, prefilter.occurrences(t, ("_",)))
    assert spans(snake) == spans(rc._SNAKE.finditer(t))
    camel = rc._word_matches(rc._CAMEL, t, rev, rc._camel_hits(t))
    assert spans(camel) == spans(rc._CAMEL.finditer(t))
    assert spans(rc._artifact_matches(t, rev)) == spans(rc._NAMED_ARTIFACT.finditer(t))


@settings(max_examples=300, deadline=None)
@given(texts)
def test_candidate_starts_equal_finditer(t: str) -> None:
    low = t.lower()
    fm = failure_modes
    assert spans(scan_at(fm._ACT_VERB, low, fm._act_verb_starts(low))) == spans(
        fm._ACT_VERB.finditer(low)
    )
    assert spans(scan_at(fm._NUMBERED, t, line_starts(t))) == spans(fm._NUMBERED.finditer(t))
    assert spans(scan_at(text._CLAUSE_END, low, text._clause_end_starts(low))) == spans(
        text._CLAUSE_END.finditer(low)
    )
    ends = tuple(m.end() for m in text._CLAUSE_END.finditer(low))
    assert text.prose_view(t).starts == (0, *ends)
    items = complexity_mod._ITEMS
    assert spans(scan_at(items, t, line_starts(t))) == spans(items.finditer(t))
    code_lines = len(attached._CODE_LINE.findall(t))
    assert attached._is_code(t) == (code_lines >= attached._MIN_CODE_LINES)


def test_dot_names_are_the_names_after_a_dot() -> None:
    names = repo_context._DOT_NAMES
    assert {"py", "yml", "yaml", "htm", "html", "zshrc", "r"} <= names
    assert all(repo_context._DOT_NAME.fullmatch("." + name) for name in names)
    near = {n[:-1] for n in names} | {n + "x" for n in names} | {"ym", "yaaml", "htmll"}
    assert not [w for w in near - names if repo_context._DOT_NAME.fullmatch("." + w)]


def _ungated(g: Gated) -> Gated:
    """``g`` without its gate: scanned everywhere, and it may match every text."""
    return Gated(g.pattern, None, g.index)


def _plain_scan_at(pattern: re.Pattern[str], t: str, starts: object) -> Iterator[re.Match[str]]:
    return pattern.finditer(t)


@contextmanager
def plain_scans() -> Iterator[None]:
    """Every optimised scan replaced by the plain ``finditer`` it stands for."""
    with ExitStack() as stack:
        for mod in (prefilter, failure_modes, text, complexity_mod):
            stack.enter_context(mock.patch.object(mod, "scan_at", _plain_scan_at))
        stack.enter_context(mock.patch.object(text, "_HYPO", _ungated(text._HYPO)))
        stack.enter_context(
            mock.patch.object(repo_context, "_scan_windows", lambda p, t, w: list(p.finditer(t)))
        )
        stack.enter_context(
            mock.patch.object(
                repo_context,
                "_artifact_matches",
                lambda t, r: repo_context._NAMED_ARTIFACT.finditer(t),
            )
        )
        yield


@settings(max_examples=300, deadline=None)
@given(texts)
@example("what if we drop it? suppose. then should we; in theory\nshould i, xwhat if")
@example("is it ok to go. would it be safe\nhypothetically, if i were to. imagine")
def test_hypothetical_gate_changes_no_mode(t: str) -> None:
    """A text the gate rules out for hypotheticals holds none in any clause."""
    fast = text.prose_view(t).modes
    with mock.patch.object(text, "_HYPO", _ungated(text._HYPO)):
        assert text.prose_view(t).modes == fast


@settings(max_examples=150, deadline=None)
@given(texts, st.sampled_from(["", "```py\ndef f(x):\n    return x\n```", "```\nfoo_bar()\n```"]))
def test_signals_equal_the_plain_path(t: str, block: str) -> None:
    msgs = [{"role": "user", "content": t + block}]
    fast = (compute_failure_modes(messages=msgs), complexity(t + block))
    with plain_scans():
        plain = (compute_failure_modes(messages=msgs), complexity(t + block))
    assert fast == plain


def test_plain_scans_really_replace_the_fast_path() -> None:
    # the patched scan must ignore its candidate starts (else the test above compares
    # the fast path with itself)
    pattern = re.compile(r"ab")
    with plain_scans():
        assert [m.start() for m in prefilter.scan_at(pattern, "xxab", [0])] == [2]
    assert [m.start() for m in scan_at(pattern, "xxab", [0])] == []


@settings(max_examples=300, deadline=None)
@given(texts | st.text(alphabet=st.characters(max_codepoint=0x10FFFF), max_size=60))
@example("a\x00b\tc\nd\x7fé\ud800\x1f")
def test_clean_equals_the_control_character_substitution(t: str) -> None:
    assert text.clean(t) == text._CONTROL.sub(" ", t)


@settings(max_examples=200, deadline=None)
@given(texts)
@example("db.query(x) db.query(x) a.py a.py `x_y` x_y FooBar FooBar our code, our code")
@example("call foo() then x.foo(1); open os.py and then lib/os.py")
def test_settled_references_skip_nothing(t: str) -> None:
    """Skipping a reference already kept at least as strong never changes the result."""
    prose = text.prose_view(t)
    fast = repo_context._references(t, prose)
    with mock.patch.object(repo_context._Refs, "settled", return_value=False):
        plain = repo_context._references(t, prose)
    assert list(fast.items()) == list(plain.items())


def _plain_alternation(words: list[str] | tuple[str, ...]) -> str:
    return "(?:" + "|".join(words) + ")"


def test_alternation_keeps_the_order_within_a_first_character() -> None:
    words = ["set", "set up", "sum", "back up", "backup", "b"]
    assert prefilter.alternation(words) == "(?:s(?:et|et up|um)|b(?:ack up|ackup|))"
    for bad in ("[ab]c", "a?b", "(x)"):
        with pytest.raises(ValueError, match="literal character"):
            prefilter.alternation([bad])


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(st.sampled_from(["a", "ab", "abc", "b", "ba", "a b", "ac"]), min_size=1))
@example("please set up x. then setup; and then back up 1. rebuild", ["set", "set up"])
def test_grouped_alternations_match_like_plain_ones(t: str, words: list[str]) -> None:
    low = t.lower()
    verbs = failure_modes._STEP_VERBS
    grouped = failure_modes._ACT_VERB
    plain = re.compile(
        grouped.pattern.replace(prefilter.alternation(verbs), _plain_alternation(verbs))
    )
    assert plain.pattern != grouped.pattern
    assert spans(grouped.finditer(low)) == spans(plain.finditer(low))
    for tail in ("", r"\b", "x?"):
        small = re.compile(prefilter.alternation(words) + tail)
        assert spans(small.finditer(low)) == spans(
            re.finditer(_plain_alternation(words) + tail, low)
        )
