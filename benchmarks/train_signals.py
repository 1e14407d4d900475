"""Train the learned failure-mode layer shipped in ``src/switchtower/signals/learned/``.

    .venv/bin/python benchmarks/train_signals.py [--out src/switchtower/signals/learned]
        [--check]

Training data (all written by this project; ``benchmarks/data``): every request of
``signals_labelled.jsonl`` and ``signals_blind.jsonl``, and the ``dev`` halves of
``signals_blind2.jsonl`` and ``signals_blind3.jsonl``. Their ``test`` halves are never
trained on: they are the held-out measures (``benchmarks/signals_eval.py --data
benchmarks/data/signals_blind2.jsonl``, likewise ``signals_blind3.jsonl``).
The rules' scores are computed by the heuristic extractor with the learned layer off,
exactly as the layer sees them at run time. ``--check`` retrains and compares with the
artifact in ``--out`` instead of writing it (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
OUT = ROOT / "src" / "switchtower" / "signals" / "learned"
#: (file, splits to train on; None: all)
SOURCES: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("signals_labelled.jsonl", None),
    ("signals_blind.jsonl", None),
    ("signals_blind2.jsonl", frozenset({"dev"})),
    ("signals_blind3.jsonl", frozenset({"dev"})),
)


def training_rows(data: Path = DATA) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, splits in SOURCES:
        for line in (data / name).read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if splits is None or row.get("split") in splits:
                    rows.append(row)
    return rows


def train(data: Path = DATA):  # type: ignore[no-untyped-def]
    """The layer as shipped: rules' scores from the rules alone, then the heads.
    Returns the model and its training inputs (task texts, rules' scores)."""
    importlib.import_module("switchtower.signals.builtin")
    from switchtower.signals.extractor import HeuristicSignalExtractor
    from switchtower.signals.failure_modes import task_text
    from switchtower.signals.learned import train_learned
    from switchtower.types import FAILURE_MODES, Classification, Request

    rules = HeuristicSignalExtractor(learned=None)
    cls = Classification(operation="unknown", confidence=0.0)
    texts, labels, scores = [], [], []
    for row in training_rows(data):
        req = Request.from_text(str(row["text"]))
        sig = rules.extract(req, cls)
        texts.append(task_text(req.messages))
        labels.append(frozenset(str(x) for x in row["labels"]))  # type: ignore[attr-defined]
        scores.append({k: s.score for k, s in sig.failure_modes.items()})
    return train_learned(texts, labels, scores, FAILURE_MODES), texts, scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    model, texts, scores = train(args.data)
    if args.check:
        from switchtower.signals.learned import LearnedSignals

        # the same data and vocabulary, and the same probabilities on every training text
        # (not bit-equal weights: the solver's last digits may move with the CPU's maths)
        have = LearnedSignals.load(args.out)
        drift = max(
            abs(a - b)
            for t, s in zip(texts, scores, strict=True)
            for a, b in zip(
                have.probabilities(t, s).values(), model.probabilities(t, s).values(), strict=True
            )
        )
        same = (
            have.digest == model.digest
            and have.featurizer.terms == model.featurizer.terms
            and drift < 1e-3
        )
        print(
            f"artifact matches its training data (largest probability difference {drift:.1e})"
            if same
            else f"artifact is stale (largest probability difference {drift:.1e}): retrain"
        )
        return 0 if same else 1
    path = model.save(args.out)
    print(
        f"wrote {path}: {len(model.names)} signals, {model.featurizer.dim} word features, "
        f"digest {model.digest[:12]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
