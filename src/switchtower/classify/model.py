"""The trained classifier: components, combination weights, temperature, threshold.

An artifact is a directory holding ``classifier.json`` (format version, labels,
calibration, training info, each component's plain metadata) and ``arrays.npz`` (every
numeric array, loaded with ``allow_pickle=False``). Nothing in it is executable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchtower.classify.calibrate import log_softmax
from switchtower.classify.components import COMPONENTS, Component
from switchtower.classify.embed import Encoder
from switchtower.classify.text import prepare_text
from switchtower.errors import DataFormatError
from switchtower.types import UNKNOWN, Classification, Request

__all__ = [
    "ARRAYS_FILE",
    "FORMAT_VERSION",
    "META_FILE",
    "REJECT_LABEL",
    "TrainedClassifier",
    "load",
    "save",
]

FORMAT_VERSION = 1
META_FILE = "classifier.json"
ARRAYS_FILE = "arrays.npz"
#: alternatives returned besides the answer
N_ALTERNATIVES = 3
#: a trained class that stands for "not agent work" (chit-chat, personal errands): when it
#: wins, the answer is ``unknown``; it is never returned as an operation or alternative
REJECT_LABEL = "_out_of_scope"


@dataclass(frozen=True, slots=True)
class TrainedClassifier:
    """Text -> operation. Implements the :class:`~switchtower.protocols.Classifier` protocol.

    ``logit_weights[i]`` scales component ``i``'s logits (its own temperature folded in);
    the weighted sum, divided by ``temperature``, goes through a softmax. Below
    ``threshold`` the answer is ``unknown``.
    """

    labels: tuple[str, ...]
    components: tuple[Component, ...]
    logit_weights: tuple[float, ...]
    temperature: float
    threshold: float
    backend: str
    info: Mapping[str, Any] = field(default_factory=dict)

    # -- scoring -------------------------------------------------------------------
    def _combine(self, parts: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
        z = sum(
            (w * np.asarray(p, np.float64) for w, p in zip(self.logit_weights, parts, strict=True)),
            start=np.zeros(len(self.labels)),
        )
        return np.exp(log_softmax(np.asarray(z) / self.temperature))

    def predict_proba(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Calibrated class probabilities, one row per text (batched; for evaluation)."""
        clean = [prepare_text(t) for t in texts]
        return self._combine([c.logits(clean) for c in self.components])

    def classify_text(self, text: str) -> Classification:
        clean = prepare_text(text)
        if not clean:
            return Classification(
                operation=UNKNOWN,
                confidence=1.0,
                backend=self.backend,
                explanation="no readable text (empty or binary input)",
            )
        probs = self._combine([c.logits_one(clean) for c in self.components])
        return self.decide(probs, clean)

    def classify(self, request: Request) -> Classification:
        return self.classify_text(request.prompt)

    def decide(self, probs: npt.NDArray[np.float64], text: str | None = None) -> Classification:
        """Turn one row of probabilities into a :class:`Classification`."""
        ranked = [int(i) for i in np.argsort(-probs)]
        rejected = self.labels[ranked[0]] == REJECT_LABEL
        order = [i for i in ranked if self.labels[i] != REJECT_LABEL]
        top = order[0]
        p_top = float(probs[top])
        if rejected or p_top < self.threshold:
            alts = tuple((self.labels[i], float(probs[i])) for i in order[:N_ALTERNATIVES])
            why = (
                f"out of scope: closest to the out-of-scope examples "
                f"(p={float(probs[ranked[0]]):.2f})"
                if rejected
                else f"out of scope: best guess {self.labels[top]!r} at {p_top:.2f} is below "
                f"the unknown threshold {self.threshold:.2f}"
            )
            return Classification(
                operation=UNKNOWN,
                confidence=1.0 - p_top,
                alternatives=alts,
                backend=self.backend,
                explanation=why,
            )
        alts = tuple((self.labels[i], float(probs[i])) for i in order[1 : N_ALTERNATIVES + 1])
        why = self.components[0].explain(text, top) if text else ""
        return Classification(
            operation=self.labels[top],
            confidence=p_top,
            alternatives=alts,
            backend=self.backend,
            explanation=f"{self.backend}: p={p_top:.2f}" + (f"; {why}" if why else ""),
        )

    @property
    def reject_index(self) -> int | None:
        """Column of :data:`REJECT_LABEL` in the probabilities, if the model has it."""
        return self.labels.index(REJECT_LABEL) if REJECT_LABEL in self.labels else None

    def with_threshold(self, threshold: float) -> TrainedClassifier:
        from dataclasses import replace

        return replace(self, threshold=float(threshold))

    # -- persistence -----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        return save(self, path)

    @classmethod
    def load(cls, path: str | Path, *, encoder: Encoder | None = None) -> TrainedClassifier:
        return load(path, encoder=encoder)


def save(model: TrainedClassifier, path: str | Path) -> Path:
    """Write the artifact directory (created if needed); returns its path."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[Any]] = {}
    parts: list[dict[str, Any]] = []
    for i, comp in enumerate(model.components):
        meta, arrs = comp.to_arrays()
        parts.append({"kind": comp.kind, "meta": meta})
        arrays.update({f"{i}.{k}": v for k, v in arrs.items()})
    doc = {
        "format_version": FORMAT_VERSION,
        "backend": model.backend,
        "labels": list(model.labels),
        "logit_weights": list(model.logit_weights),
        "temperature": model.temperature,
        "threshold": model.threshold,
        "info": dict(model.info),
        "components": parts,
    }
    np.savez_compressed(out / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
    (out / META_FILE).write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return out


def load(path: str | Path, *, encoder: Encoder | None = None) -> TrainedClassifier:
    """Read an artifact written by :func:`save`. Raises :class:`DataFormatError`."""
    src = Path(path)
    try:
        doc = json.loads((src / META_FILE).read_text("utf-8"))
        with np.load(src / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{src}: not a classifier artifact: {exc}") from exc
    version = doc.get("format_version") if isinstance(doc, dict) else None
    if version != FORMAT_VERSION:
        raise DataFormatError(
            f"{src}: classifier artifact format {version!r}, this version reads {FORMAT_VERSION}"
        )
    try:
        comps: list[Component] = []
        for i, part in enumerate(doc["components"]):
            cls = COMPONENTS[part["kind"]]
            prefix = f"{i}."
            mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            comps.append(cls.from_arrays(part["meta"], mine, encoder=encoder))
        model = TrainedClassifier(
            labels=tuple(str(x) for x in doc["labels"]),
            components=tuple(comps),
            logit_weights=tuple(float(w) for w in doc["logit_weights"]),
            temperature=float(doc["temperature"]),
            threshold=float(doc["threshold"]),
            backend=str(doc["backend"]),
            info=dict(doc.get("info", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{src}: malformed classifier artifact: {exc}") from exc
    if not model.labels or not math.isfinite(model.temperature) or model.temperature <= 0:
        raise DataFormatError(f"{src}: malformed classifier artifact: bad labels/temperature")
    return model
