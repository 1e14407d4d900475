"""Renderings for `switchtower traces`, and the JSON form of a trace."""

from __future__ import annotations

import json

from switchtower.store import format_trace, format_trace_table, trace_from_dict, trace_to_json
from switchtower.types import Outcome, Usage

from .factories import trace


def test_json_roundtrip_is_exact() -> None:
    t = trace(prompt="hi", outcome=Outcome(success=False, score=0.1, comment="no", source="x"))
    assert trace_from_dict(json.loads(json.dumps(trace_to_json(t)))) == t


def test_format_trace_tells_what_why_and_every_attempt() -> None:
    t = trace(outcome=Outcome(success=True, comment="worked"), experiment="e", arm="gpt-x")
    text = format_trace(t)
    assert t.id in text
    assert "code.edit" in text
    assert "guard risky_migration" in text  # the explanation from the decision
    assert "1. gpt-x via openai [realtime] failed upstream_server (HTTP 502)" in text
    assert "502 bad gateway" in text
    assert "2. gpt-x via openai [realtime] ok" in text
    assert "success" in text
    assert "worked" in text
    assert "experiment e arm gpt-x" in text
    assert "prompt" not in text.split("digest")[1]  # no prompt stored, none shown


def test_trace_table_has_one_line_per_trace_with_full_ids() -> None:
    ts = [trace(), trace(status="error", error_kind="all_models_failed")]
    lines = format_trace_table(ts).splitlines()
    assert len(lines) == 2 + len(ts)  # header, rule, rows
    assert ts[0].id in lines[2]
    assert "error:all_models_failed" in lines[3]
    assert format_trace_table([]) == "no traces"


def test_trace_table_says_who_judged_an_outcome_unless_feedback() -> None:
    ts = [
        trace(outcome=Outcome(success=False, source="contract")),
        trace(outcome=Outcome(success=True)),
        trace(outcome=Outcome(score=0.5, source="second-opinion")),
    ]
    rows = format_trace_table(ts).splitlines()[2:]
    assert rows[0].rstrip().endswith("failure (contract)")
    assert rows[1].rstrip().endswith("success")
    assert rows[2].rstrip().endswith("score 0.50 (second-opinion)")


def test_format_trace_shows_prompt_cache_tokens() -> None:
    cached = format_trace(trace(usage=Usage(1200, 30, cache_read_tokens=1000)))
    assert "tokens     1200 in, 30 out (prompt cache: 1000 read, 0 written)" in cached
    assert "prompt cache" not in format_trace(trace())
