"""Precision / recall / F1 of the five failure-mode signals, plus extraction latency.

    .venv/bin/python benchmarks/signals_eval.py [--data FILE] [--json OUT]
        [--threshold 0.5] [--extractor heuristic] [--rules-only] [--errors SPLIT]

FILE is JSONL, one request a line: ``{"text": ..., "labels": [signal names], "split"?:
"dev"|"test", "note"?: ...}``. A signal is predicted when its score is at least the
threshold (the router's guards use 0.5). Metrics are printed per split when lines carry
one, and for all lines. Latency is the wall time of ``extract()`` (signals only, no
classifier) per request over several passes; the machine is shared, so treat it as noisy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchtower.config.schema import Config
from switchtower.errors import DataFormatError
from switchtower.protocols import SignalExtractor
from switchtower.registries import signal_extractors
from switchtower.types import FAILURE_MODES, Classification, Request

DEFAULT_DATA = Path(__file__).parent / "data" / "signals_labelled.jsonl"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    labels: frozenset[str]
    split: str


def load(path: Path) -> list[Example]:
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, labels = row["text"], row.get("labels", [])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataFormatError(f"{path}:{n}: not a labelled request: {exc}") from exc
            unknown = set(labels) - set(FAILURE_MODES)
            if not isinstance(text, str) or unknown:
                raise DataFormatError(f"{path}:{n}: bad text or unknown labels {unknown}")
            out.append(Example(text, frozenset(labels), str(row.get("split", "all"))))
    return out


def metrics(
    examples: Sequence[Example], predicted: Sequence[frozenset[str]]
) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for name in FAILURE_MODES:
        tp = sum(
            1 for e, p in zip(examples, predicted, strict=True) if name in e.labels and name in p
        )
        fp = sum(
            1
            for e, p in zip(examples, predicted, strict=True)
            if name not in e.labels and name in p
        )
        fn = sum(
            1
            for e, p in zip(examples, predicted, strict=True)
            if name in e.labels and name not in p
        )
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        table[name] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "support": tp + fn,
            "precision": prec,
            "recall": rec,
            "f1": f1,
        }
    return table


def print_table(title: str, table: Mapping[str, Mapping[str, float]], n: int) -> None:
    print(f"\n{title} ({n} requests)")
    print(
        f"{'signal':24} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4} "
        f"{'precision':>9} {'recall':>6} {'f1':>5}"
    )
    for name, m in table.items():
        print(
            f"{name:24} {int(m['support']):7d} {int(m['tp']):4d} {int(m['fp']):4d} "
            f"{int(m['fn']):4d} {m['precision']:9.3f} {m['recall']:6.3f} {m['f1']:5.3f}"
        )
    macro = statistics.fmean(m["f1"] for m in table.values())
    print(f"{'macro F1':24} {macro:.3f}")


def latency(
    extractor: SignalExtractor, requests: Sequence[Request], passes: int
) -> dict[str, float]:
    """Wall and CPU (thread) time per ``extract()`` call, in ms. On a loaded shared
    machine the wall-time tail is mostly preemption; CPU time shows the work itself."""
    cls = Classification(operation="unknown", confidence=0.0)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(passes):
        for req in requests:
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            extractor.extract(req, cls)
            wall.append((time.perf_counter_ns() - t0) / 1e6)
            cpu.append((time.thread_time_ns() - c0) / 1e6)
    wall.sort()
    cpu.sort()

    def q(xs: list[float], p: float) -> float:
        return xs[int(p * (len(xs) - 1))]

    return {
        "n": len(wall),
        "p50_ms": q(wall, 0.5),
        "p90_ms": q(wall, 0.9),
        "p99_ms": q(wall, 0.99),
        "max_ms": wall[-1],
        "cpu_p50_ms": q(cpu, 0.5),
        "cpu_p99_ms": q(cpu, 0.99),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--extractor", default="heuristic")
    parser.add_argument(
        "--rules-only", action="store_true", help="heuristic extractor without its learned layer"
    )
    parser.add_argument("--passes", type=int, default=5, help="latency passes over the set")
    parser.add_argument(
        "--errors", default=None, metavar="SPLIT", help="print misclassified lines of SPLIT"
    )
    args = parser.parse_args(argv)

    # only the signals stage is needed; other stages' built-ins may not import here
    importlib.import_module("switchtower.signals.builtin")
    options = {"learned": False} if args.rules_only else {}
    extractor = signal_extractors.create(args.extractor, config=Config(), history=None, **options)
    examples = load(args.data)
    requests = [Request.from_text(e.text) for e in examples]
    cls = Classification(operation="unknown", confidence=0.0)
    predicted: list[frozenset[str]] = []
    for req in requests:
        sig = extractor.extract(req, cls)
        predicted.append(
            frozenset(n for n, s in sig.failure_modes.items() if s.score >= args.threshold)
        )

    results: dict[str, Any] = {"data": str(args.data), "threshold": args.threshold}
    splits = sorted({e.split for e in examples})
    groups = {s: [i for i, e in enumerate(examples) if e.split == s] for s in splits}
    if len(splits) > 1 or splits != ["all"]:
        groups["all"] = list(range(len(examples)))
    for name, idx in groups.items():
        table = metrics([examples[i] for i in idx], [predicted[i] for i in idx])
        results[name] = table
        print_table(f"split={name}", table, len(idx))
    if args.errors:
        print("\nerrors (label: + missed, - false alarm):")
        for e, p in zip(examples, predicted, strict=True):
            if args.errors not in ("all", e.split):
                continue
            missed, extra = e.labels - p, p - e.labels
            if missed or extra:
                marks = [f"+{m}" for m in sorted(missed)] + [f"-{m}" for m in sorted(extra)]
                print(f"  [{e.split}] {' '.join(marks)} :: {e.text[:110]!r}")

    lat = latency(extractor, requests, args.passes)
    results["latency_ms"] = lat
    print(
        f"\nlatency of extract() over {lat['n']} calls: p50 {lat['p50_ms']:.3f} ms, "
        f"p90 {lat['p90_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms, max {lat['max_ms']:.3f} ms"
    )
    print(
        f"cpu time of extract(): p50 {lat['cpu_p50_ms']:.3f} ms, p99 {lat['cpu_p99_ms']:.3f} ms"
        f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    big = Request.from_text(("Refactor src/app.py and deploy it. " * 40 + "x" * 200) * 200)
    big_lat = latency(extractor, [big], 20)
    results["latency_huge_ms"] = big_lat
    print(
        f"latency on a {len(big.text):,}-char request: p50 {big_lat['p50_ms']:.3f} ms, "
        f"max {big_lat['max_ms']:.3f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
