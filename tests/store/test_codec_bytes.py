"""The journal's fast serialisation says exactly what trace_to_dict says."""

from __future__ import annotations

import json
import math

from switchtower.store.codec import trace_from_dict, trace_to_dict, trace_to_json_bytes

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
