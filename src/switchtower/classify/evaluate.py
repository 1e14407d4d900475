"""Datasets and metrics for ``switchtower classify eval``.

A labelled file is a CSV with columns ``text`` and ``label`` (``category`` or ``intent``
are accepted for ``label``), JSONL of ``{"text": ..., "label": ...}``, a JSON array of
those, or a CLINC150 release file (see :func:`read_examples`). In a test file, the label
``oos`` marks out-of-scope items.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

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
Split = Literal["train", "test"]
_LABEL_COLUMNS = ("label", "category", "intent")
#: the parts of a CLINC150 file read for each side of an evaluation
_CLINC_SPLITS: Mapping[Split, tuple[str, ...]] = {
    "train": ("train", "oos_train", "oos_val"),
    "test": ("test", "oos_test"),
}


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir``, else ``$SWITCHTOWER_DATA_DIR``, else ``../shared/data``."""
    if override:
        return Path(override)
    return Path(os.environ.get("SWITCHTOWER_DATA_DIR", "../shared/data"))


def read_examples(path: str | os.PathLike[str], split: Split = "train") -> Examples:
    """Read ``text,label`` pairs from a file. Raises DataFormatError.

    Formats, told apart by content (the extension only separates CSV from JSON):

    * CSV with a ``text`` column and a ``label`` (or ``category`` / ``intent``) column;
    * JSONL, one ``{"text", "label"}`` object a line (``category`` / ``intent`` accepted);
    * a JSON array of such objects or of ``[text, label]`` pairs;
    * a CLINC150 file (``data_full.json``, ``data_small.json``, ``data_oos_plus.json``
      ...): an object of ``[text, label]`` lists per split. ``split="train"`` reads
      ``train`` plus ``oos_train`` and ``oos_val`` (out-of-scope queries only tune the
      threshold; in-scope ``val`` is left out), ``split="test"`` reads ``test`` plus
      ``oos_test``.
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                texts, labels = _read_json(p, fh.read(), split)
            else:
                texts, labels = _read_csv(p, fh)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{p}: cannot read examples: {exc}") from exc
    # a row without its text or its label is no example, in training or in a test
    kept = [(t, lab) for t, lab in zip(texts, labels, strict=True) if t.strip() and lab.strip()]
    if not kept:
        raise DataFormatError(f"{p}: no examples (rows with both a text and a label)")
    return [t for t, _ in kept], [lab for _, lab in kept]


def _read_csv(p: Path, fh: Iterable[str]) -> Examples:
    reader = csv.DictReader(fh)
    cols = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = cols
    col = next((c for c in _LABEL_COLUMNS if c in cols), None)
    if "text" not in cols or col is None:
        raise DataFormatError(f"{p}: CSV needs columns text,label (has {cols})")
    texts: list[str] = []
    labels: list[str] = []
    for row in reader:
        texts.append(row["text"] or "")
        labels.append(row[col] or "")
    return texts, labels


def _read_json(p: Path, content: str, split: Split) -> Examples:
    try:
        doc = json.loads(content)
    except json.JSONDecodeError:
        doc = None  # JSONL: one document per line
    if isinstance(doc, dict) and any(k in doc for k in _CLINC_SPLITS[split]):
        return _pairs(p, [row for k in _CLINC_SPLITS[split] for row in doc.get(k, [])])
    if isinstance(doc, list):
        return _pairs(p, doc)
    rows: list[Any] = []
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{p}:{n}: not JSON: {exc.msg}") from exc
        if not _pair(rows[-1]):
            raise DataFormatError(f"{p}:{n}: expected {{'text', 'label'}}")
    return _pairs(p, rows)


def _pair(row: Any) -> tuple[str, str] | None:
    if isinstance(row, dict) and "text" in row:
        key = next((k for k in _LABEL_COLUMNS if k in row), None)
        return None if key is None else (str(row["text"]), str(row[key]))
    if isinstance(row, list | tuple) and len(row) == 2:
        return str(row[0]), str(row[1])
    return None


def _pairs(p: Path, rows: Sequence[Any]) -> Examples:
    texts: list[str] = []
    labels: list[str] = []
    for n, row in enumerate(rows, 1):
        pair = _pair(row)
        if pair is None:
            raise DataFormatError(
                f"{p}: item {n}: expected {{'text', 'label'}} or [text, label], got {row!r:.80}"
            )
        texts.append(pair[0])
        labels.append(pair[1])
    return texts, labels


def _intent(root: Path, name: str) -> Path:
    """``<root>/intent/<name>``; a root that is the ``intent`` folder itself (or the
    dataset's own folder) works too, as ``bench --data-dir`` takes either level."""
    for base in (root / "intent" / name, root / name, root):
        if base.is_dir() and base.name == name:
            return base
    return root / "intent" / name


def _banking77(root: Path) -> tuple[Examples, Examples]:
    base = _intent(root, "banking77")
    return read_examples(base / "train.csv"), read_examples(base / "test.csv")


def _clinc150(root: Path) -> tuple[Examples, Examples]:
    base = _intent(root, "clinc150")
    path = base / "data_full.json"
    if not path.exists():  # another variant of the release (data_small, data_oos_plus ...)
        variants = sorted(base.glob("data_*.json"))
        if len(variants) == 1:
            path = variants[0]
    if not path.exists():
        found = ", ".join(v.name for v in variants) or "none"
        raise DataFormatError(
            f"{path}: cannot read CLINC150: no such file (other data_*.json: {found}; "
            "give one with --train FILE --test FILE)"
        )
    return read_examples(path, "train"), read_examples(path, "test")


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
