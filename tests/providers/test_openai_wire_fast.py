"""The openai provider's own SSE reading and JSON helpers (the SDK's models are skipped)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import MappingProxyType

import httpx2
import openai
import pytest

from fakes.models import info, openai_spec
from fakes.openai_upstream import FakeOpenAI
from switchtower.config.schema import ModelConfig
from switchtower.errors import UpstreamUnavailableError
from switchtower.providers import OpenAIProvider
from switchtower.providers.common import json_bytes, json_loads
from switchtower.providers.openai_compat import _sse_chunks
from switchtower.types import Request


class _Blocks(httpx2.AsyncByteStream):
    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for block in self.blocks:
            yield block


def _response(blocks: list[bytes]) -> httpx2.Response:
    request = httpx2.Request("POST", "http://upstream.test/v1/chat/completions")
    return httpx2.Response(200, stream=_Blocks(blocks), request=request)


async def _read(blocks: list[bytes]) -> list[dict[str, object]]:
    return [c async for c in _sse_chunks(_response(blocks))]


def _event(data: object, end: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(data).encode() + end


async def test_events_split_anywhere_are_reassembled() -> None:
    body = _event({"n": 1}) + b": keep-alive comment\n\n" + _event({"n": 2}) + b"data: [DONE]\n\n"
    for cut in range(1, len(body)):
        assert await _read([body[:cut], body[cut:]]) == [{"n": 1}, {"n": 2}]


async def test_crlf_multiline_data_and_other_fields() -> None:
    body = (
        b'event: message\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b'data:{"b":2}\r\n\r\n'  # no space after the colon
        b"data: [DONE]\r\n\r\n"
    )
    assert await _read([body]) == [{"a": 1}, {"b": 2}]


async def test_events_after_done_are_ignored_and_a_missing_done_is_fine() -> None:
    assert await _read([_event({"n": 1}) + b"data: [DONE]\n\n" + _event({"n": 2})]) == [{"n": 1}]
    # no [DONE] and no final blank line: the last event still counts
    assert await _read([_event({"n": 1}) + _event({"n": 2}, end=b"")]) == [{"n": 1}, {"n": 2}]


async def test_error_event_raises_like_the_sdk() -> None:
    body = _event({"n": 1}) + _event({"error": {"message": "overloaded", "type": "server"}})
    seen: list[object] = []

    async def consume() -> None:
        async for chunk in _sse_chunks(_response([body])):
            seen.append(chunk)

    with pytest.raises(openai.APIError, match="overloaded"):
        await consume()
    assert seen == [{"n": 1}]


async def test_malformed_event_is_an_api_error() -> None:
    with pytest.raises(openai.APIError, match="malformed"):
        await _read([b"data: {not json\n\n"])


@pytest.mark.parametrize("body", [b"<html>not json</html>", b"[1, 2]"])
async def test_not_an_openai_answer_is_a_typed_error(body: bytes) -> None:
    provider = OpenAIProvider()
    # the provider's shared HTTP client, answering from a handler instead of the network
    provider._http = httpx2.AsyncClient(
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200, content=body))
    )
    spec = ModelConfig(name="odd", provider="openai", base_url="http://odd.test/v1")
    try:
        with pytest.raises(UpstreamUnavailableError, match="odd"):
            await provider.complete(info(spec), Request.from_text("hi"))
    finally:
        await provider.aclose()


async def test_stream_dropped_mid_way_is_unavailable(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider()
    fake_openai.drop(after=1)
    got: list[object] = []

    async def consume() -> None:
        stream = provider.stream(info(openai_spec(fake_openai)), Request.from_text("a b c d e f"))
        async for chunk in stream:
            got.append(chunk)

    try:
        with pytest.raises(UpstreamUnavailableError):
            await consume()
    finally:
        await provider.aclose()
    assert len(got) >= 1


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_both_transports_round_trip(fake_openai: FakeOpenAI, transport: str) -> None:
    provider = OpenAIProvider(transport=transport)  # type: ignore[arg-type]
    model = info(openai_spec(fake_openai))
    try:
        completion = await provider.complete(model, Request.from_text("one two"))
        chunks = [c async for c in provider.stream(model, Request.from_text("one two"))]
    finally:
        await provider.aclose()
    assert completion.text == "echo: one two"
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert text == "echo: one two"


def test_json_helpers_handle_what_orjson_refuses() -> None:
    value = {"m": MappingProxyType({"k": (1, 2)}), "big": 2**70, "s": "é"}
    assert json.loads(json_bytes(value)) == {"m": {"k": [1, 2]}, "big": 2**70, "s": "é"}
    assert json_loads(b'{"a": NaN}')["a"] != json_loads(b'{"a": NaN}')["a"]  # NaN
    with pytest.raises(ValueError, match="Expecting"):
        json_loads(b"{oops")
