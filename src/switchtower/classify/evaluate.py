"""Datasets and metrics for ``switchtower classify eval``.

A labelled file is a CSV with columns ``text`` and ``label`` (``category`` or ``intent``
are accepted for ``label``), or JSONL of ``{"text": ..., "label": ...}``. In a test
file, the label ``oos`` marks out-of-scope items.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from switchtower.classify.calibrate import ece
from switchtower.classify.model import TrainedClassifier
from switchtower.classify.train import OOS_LABELS
from switchtower.errors import DataFormatError
from switchtower.types import UNKNOWN

__all__ = [
    "DATASETS",
    "Examples",
    "data_dir",
    "evaluate",
    "read_examples",
    "sample_shots",
]

Examples = tuple[list[str], list[str]]
_LABEL_COLUMNS = ("label", "category", "intent")


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir``, else ``$SWITCHTOWER_DATA_DIR``, else ``../shared/data``."""
    if override:
        return Path(override)
    return Path(os.environ.get("SWITCHTOWER_DATA_DIR", "../shared/data"))


def read_examples(path: str | os.PathLike[str]) -> Examples:
    """Read ``text,label`` pairs from a CSV or JSONL file. Raises DataFormatError."""
    p = Path(path)
    texts: list[str] = []
    labels: list[str] = []
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if not isinstance(row, dict) or "text" not in row or "label" not in row:
                        raise DataFormatError(f"{p}:{n}: expected {{'text', 'label'}}")
                    texts.append(str(row["text"]))
                    labels.append(str(row["label"]))
            else:
                reader = csv.DictReader(fh)
                cols = reader.fieldnames or []
                col = next((c for c in _LABEL_COLUMNS if c in cols), None)
                if "text" not in cols or col is None:
                    raise DataFormatError(f"{p}: CSV needs columns text,label (has {cols})")
                for row in reader:
                    texts.append(row["text"] or "")
                    labels.append(row[col] or "")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{p}: cannot read examples: {exc}") from exc
    return texts, labels


def _banking77(root: Path) -> tuple[Examples, Examples]:
    base = root / "intent" / "banking77"
    return read_examples(base / "train.csv"), read_examples(base / "test.csv")


def _clinc150(root: Path) -> tuple[Examples, Examples]:
    path = root / "intent" / "clinc150" / "data_full.json"
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read CLINC150: {exc}") from exc

    def take(*keys: str) -> Examples:
        rows = [r for k in keys for r in doc[k]]
        return [str(r[0]) for r in rows], [str(r[1]) for r in rows]

    # the validation split's out-of-scope queries tune the threshold too (never the test)
    return take("train", "oos_train", "oos_val"), take("test", "oos_test")


#: ``--dataset`` shortcuts: data root -> (train, test)
DATASETS: Mapping[str, Callable[[Path], tuple[Examples, Examples]]] = {
    "banking77": _banking77,
    "clinc150": _clinc150,
}


def sample_shots(texts: Sequence[str], labels: Sequence[str], shots: int, seed: int) -> Examples:
    """``shots`` examples per label (all if fewer), drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    keep: list[int] = []
    for y in sorted(by_label):
        idx = by_label[y]
        keep.extend(idx if len(idx) <= shots else rng.choice(idx, shots, replace=False).tolist())
    keep.sort()
    return [texts[i] for i in keep], [labels[i] for i in keep]


def _macro_f1(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> float:
    scores = []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p != c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def evaluate(
    model: TrainedClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    latency_samples: int = 1000,
) -> dict[str, Any]:
    """Metrics of ``model`` on a labelled test set (``oos`` = out of scope).

    ``accuracy`` is over in-scope items, an ``unknown`` answer counting as wrong;
    ``closed_accuracy`` ignores the threshold (best label always). ``ece`` is over
    in-scope items' top-1 confidences. Latency is measured one request at a time on the
    first ``latency_samples`` items.
    """
    if not texts:
        raise DataFormatError("empty test set")
    probs = model.predict_proba(texts)
    labs = np.array(model.labels)
    rej = model.reject_index
    in_probs = probs if rej is None else np.where(np.arange(len(labs)) == rej, -1.0, probs)
    top = in_probs.argmax(axis=1)
    conf = in_probs.max(axis=1)
    closed = labs[top]
    rejected = np.zeros(len(texts), bool) if rej is None else probs.argmax(axis=1) == rej
    pred = np.where((conf >= model.threshold) & ~rejected, closed, UNKNOWN)
    gold = np.array([UNKNOWN if y in OOS_LABELS else y for y in labels])
    ins = gold != UNKNOWN
    out: dict[str, Any] = {"n_test": len(texts), "n_in_scope": int(ins.sum())}
    if ins.any():
        out["accuracy"] = float((pred[ins] == gold[ins]).mean())
        out["closed_accuracy"] = float((closed[ins] == gold[ins]).mean())
        out["macro_f1"] = _macro_f1(list(gold), list(pred), sorted(set(gold[ins])))
        out["ece"] = ece(conf[ins], closed[ins] == gold[ins])
        out["unknown_rate_in_scope"] = float((pred[ins] == UNKNOWN).mean())
    if (~ins).any():
        flagged = pred == UNKNOWN
        out["n_oos"] = int((~ins).sum())
        out["oos_recall"] = float(flagged[~ins].mean())
        out["oos_precision"] = float((~ins)[flagged].mean()) if flagged.any() else 0.0
    out["threshold"] = model.threshold
    times: list[float] = []
    for text in list(texts)[:latency_samples]:
        t0 = time.perf_counter()
        model.classify_text(text)
        times.append((time.perf_counter() - t0) * 1000)
    out["latency_p50_ms"] = statistics.median(times)
    out["latency_p99_ms"] = float(np.percentile(times, 99))
    return out
