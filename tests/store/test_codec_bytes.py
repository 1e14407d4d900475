"""The journal's fast serialisation says exactly what trace_to_dict says."""

from __future__ import annotations

import json
import math
from pathlib import Path

from switchtower.store.codec import (
    json_safe,
    json_text,
    trace_from_dict,
    trace_to_dict,
    trace_to_json_bytes,
)
from switchtower.store.sql import open_store

from .factories import attempt, judged, trace


def test_bytes_equal_the_dict_and_round_trip() -> None:
    t = trace(
        attempts=(attempt(ok=False, error_kind="upstream_server"), attempt()),
        outcome=judged(success=True),
        decision={"operation": "x", "alternatives": [("a", 0.5)], "nested": {"t": (1, 2)},
                  "odd": {3: {"k"}}, "nan": math.nan, "inf": math.inf},
        signals={"complexity": 0.25, "weird": math.nan},
    )  # fmt: skip
    assert json.loads(trace_to_json_bytes(t)) == trace_to_dict(t)
    assert trace_from_dict(json.loads(trace_to_json_bytes(t))) == trace_from_dict(trace_to_dict(t))


def test_json_text_says_what_json_safe_says() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd-object"

    value = {
        "nan": math.nan,
        "inf": -math.inf,
        "tuple": (1, 2.5, None),
        "set": {"only"},
        3: Odd(),
        "nested": [{"x": math.nan}, "é"],
    }
    assert json.loads(json_text(value)) == json_safe(value)
    # what orjson refuses (an int beyond 64 bits) takes the slow path, not an error
    assert json.loads(json_text({"big": 2**70, "f": math.nan})) == {"big": 2**70, "f": None}


def test_the_store_engine_writes_json_columns_with_json_text(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        t = trace(signals={"weird": math.nan, "s": {"k"}}, decision={"big": 2**70})
        store.write(t)
        got = store.get(t.id)
    finally:
        store.close()
    assert got is not None
    assert got.signals == {"weird": None, "s": ["k"]}
    assert got.decision == {"big": 2**70}
