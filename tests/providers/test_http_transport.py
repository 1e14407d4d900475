"""The lean HTTP/1.1 transport against raw loopback servers that answer byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.openai_upstream import FakeOpenAI
from switchtower.providers.http_transport import LeanTransport, env_proxies, sdk_http_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


class RawServer:
    """A loopback server running ``handler`` per connection; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def answer(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"content-type: application/json"]
    head += [b"content-length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        _, body = await read_request(reader)
        writer.write(answer(b'{"echo": %d}' % len(body)))
        await writer.drain()


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=LeanTransport(), timeout=5) as c:
        yield c


async def test_answers_and_reuses_the_connection(client: httpx2.AsyncClient) -> None:
    async with RawServer(keep_alive) as server:
        for n in (3, 5, 7):
            r = await client.post(server.url + "/v1/x", content=b"x" * n)
            assert r.status_code == 200
            assert r.json() == {"echo": n}
        assert server.connections == 1


async def test_sends_the_request_head_and_body_verbatim(client: httpx2.AsyncClient) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(answer(b"{}"))
        await writer.drain()

    async with RawServer(record) as server:
        await client.post(server.url + "/v1/a?b=c", content=b'{"k": 1}', headers={"x-t": "v"})
    head, body = seen[0]
    assert head.startswith(b"POST /v1/a?b=c HTTP/1.1\r\n")
    assert b"\r\nx-t: v\r\n" in head.lower()
    assert b"\r\nhost: 127.0.0.1:" in head.lower()
    assert body == b'{"k": 1}'


async def test_a_closed_idle_connection_is_replaced_transparently(
    client: httpx2.AsyncClient,
) -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"{}"))  # keep-alive answer, then the server drops the socket
        await writer.drain()

    async with RawServer(one_then_close) as server:
        assert (await client.post(server.url, content=b"1")).status_code == 200
        await asyncio.sleep(0.05)
        assert (await client.post(server.url, content=b"2")).status_code == 200
        assert server.connections == 2


async def test_a_connection_that_dies_before_answering_is_retried_once(
    client: httpx2.AsyncClient,
) -> None:
    """The keep-alive race: the server closes the idle socket as the request goes out."""
    async with RawServer(keep_alive) as server:
        await client.post(server.url, content=b"1")
        transport = client._transport
        assert isinstance(transport, LeanTransport)
        (conn,) = next(iter(transport._idle.values()))
        closing = conn.transport
        assert closing is not None
        closing.close = lambda: None  # type: ignore[method-assign]  # still looks open
        conn.connection_lost(None)  # ...but the server is gone
        conn.closed = False
        r = await client.post(server.url, content=b"22")
        assert r.json() == {"echo": 2}


async def test_chunked_body_streams_as_it_arrives(client: httpx2.AsyncClient) -> None:
    go_on = asyncio.Event()

    async def sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
        writer.write(b"transfer-encoding: chunked\r\n\r\n")
        first = b"data: 1\n\n"
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        await go_on.wait()
        last = b"data: [DONE]\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
        await writer.drain()

    async with RawServer(sse) as server:
        async with client.stream("POST", server.url, content=b"{}") as r:
            parts = r.aiter_bytes()
            assert await parts.__anext__() == b"data: 1\n\n"  # before the rest exists
            go_on.set()
            rest = b"".join([chunk async for chunk in parts])
        assert rest == b"data: [DONE]\n\n"


async def test_body_delimited_by_connection_close(client: httpx2.AsyncClient) -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello ")
        await writer.drain()
        writer.write(b"world")
        await writer.drain()

    async with RawServer(until_close) as server:
        r = await client.post(server.url, content=b"")
        assert r.content == b"hello world"


async def test_read_timeout(client: httpx2.AsyncClient) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with RawServer(silent) as server:
        with pytest.raises(httpx2.ReadTimeout):
            await client.post(server.url, content=b"", timeout=0.2)


async def test_connection_refused_is_a_connect_error(client: httpx2.AsyncClient) -> None:
    async with RawServer(keep_alive) as server:
        url = server.url
    await asyncio.sleep(0.05)
    with pytest.raises(httpx2.ConnectError):
        await client.post(url, content=b"")


async def test_garbage_is_a_protocol_error(client: httpx2.AsyncClient) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with RawServer(garbage) as server:
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(server.url, content=b"")


async def test_server_closing_mid_body_is_an_error(client: httpx2.AsyncClient) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()

    async with RawServer(short) as server:
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(server.url, content=b"")


async def test_pool_limit_queues_and_times_out() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.write(answer(b"{}"))
        await writer.drain()

    limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        httpx2.AsyncClient(transport=LeanTransport(limits=limits)) as c,
        RawServer(slow) as server,
    ):
        first = asyncio.create_task(c.post(server.url, content=b""))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx2.PoolTimeout):
            await c.post(server.url, content=b"", timeout=httpx2.Timeout(5, pool=0.1))
        release.set()
        assert (await first).status_code == 200


async def test_the_openai_sdk_maps_transport_errors(client: httpx2.AsyncClient) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with RawServer(silent) as server:
        sdk = openai.AsyncOpenAI(
            api_key="k", base_url=server.url + "/v1", http_client=client, max_retries=0
        )
        with pytest.raises(openai.APITimeoutError):
            await sdk.post(
                "/chat/completions", cast_to=httpx2.Response, body={}, options={"timeout": 0.2}
            )


def test_one_client_under_two_event_loops(fake_openai: FakeOpenAI) -> None:
    """One ``asyncio.run`` per CLI command: the pool starts afresh under the new loop."""
    client = httpx2.AsyncClient(transport=LeanTransport(), timeout=5)
    url = fake_openai.base_url + "/models"

    async def get() -> int:
        return (await client.get(url)).status_code

    assert asyncio.run(get()) == 200
    assert asyncio.run(get()) == 200
    asyncio.run(client.aclose())


@pytest.mark.parametrize("var", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_configured_proxy_keeps_the_sdk_transport(
    monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    """The lean transport cannot talk to a proxy: with one configured the SDK's own
    transport (which honours *_PROXY and NO_PROXY) stays in place."""
    limits = httpx2.Limits(max_connections=4)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not env_proxies()
    lean = sdk_http_client(openai.DefaultAsyncHttpxClient, limits)
    assert isinstance(lean._transport, LeanTransport)
    monkeypatch.setenv(var, "http://127.0.0.1:3128")
    assert env_proxies()
    plain = sdk_http_client(openai.DefaultAsyncHttpxClient, limits)
    assert not isinstance(plain._transport, LeanTransport)


_NAMES = st.sampled_from(
    ["Accept", "accept", "User-Agent", "X-Stainless-Lang", "Authorization", "x-t", "Content-Type"]
)
_URLS = st.sampled_from(
    [
        "http://127.0.0.1:9/v1/chat/completions",
        "https://api.example.com/v1/messages?beta=true",
        "http://[::1]:8080/a%20b/c",
    ]
)
_TIMEOUTS = st.sampled_from(
    [httpx2.USE_CLIENT_DEFAULT, None, 3.0, httpx2.Timeout(5.0, connect=1.0)]
)


@settings(max_examples=200, deadline=None)
@given(
    url=_URLS,
    headers=st.lists(st.tuples(_NAMES, st.text("abc ;=/", max_size=8)), max_size=6),
    content=st.binary(max_size=32),
    timeout=_TIMEOUTS,
)
def test_quick_requests_build_what_httpx_builds(
    url: str, headers: list[tuple[str, str]], content: bytes, timeout: object
) -> None:
    """The SDKs' calls (absolute URL, header pairs) give the same request as httpx's
    general build_request: method, URL, headers in order, body and timeouts."""
    limits = httpx2.Limits(max_connections=4)
    quick = sdk_http_client(openai.DefaultAsyncHttpxClient, limits)
    plain = openai.DefaultAsyncHttpxClient(limits=limits)
    assert type(quick).build_request is not type(plain).build_request
    kw = {"headers": headers, "content": content, "timeout": timeout}
    for _ in range(2):  # the second time from the parsed-URL cache
        a = quick.build_request("POST", url, **kw)  # type: ignore[arg-type]
        b = plain.build_request("POST", url, **kw)  # type: ignore[arg-type]
        assert (a.method, a.url, a.content) == (b.method, b.url, b.content)
        assert a.headers.multi_items() == b.headers.multi_items()
        assert a.extensions == b.extensions


def test_quick_requests_leave_other_calls_to_httpx() -> None:
    """Relative URLs against a base URL, query parameters, JSON bodies and cookies take
    httpx's own path, with its results."""
    quick = sdk_http_client(openai.DefaultAsyncHttpxClient, httpx2.Limits(max_connections=4))
    quick.base_url = httpx2.URL("http://127.0.0.1:9/v1/")
    r = quick.build_request("GET", "models", params={"a": "1"})
    assert str(r.url) == "http://127.0.0.1:9/v1/models?a=1"
    r = quick.build_request("POST", "http://127.0.0.1:9/x", json={"k": 1}, headers=[("x", "y")])
    assert r.content == b'{"k":1}'
    assert r.headers["x"] == "y"
    quick.cookies.set("session", "s1")
    r = quick.build_request("POST", "http://127.0.0.1:9/x", headers=[("x", "y")])
    assert r.headers["cookie"] == "session=s1"


async def test_an_answer_complete_with_its_head_comes_read(client: httpx2.AsyncClient) -> None:
    """A small answer that arrived whole is handed over read, its connection back in
    the pool before the caller touches the body."""
    async with RawServer(keep_alive) as server:
        transport = client._transport
        assert isinstance(transport, LeanTransport)
        async with client.stream("POST", server.url + "/v1/x", content=b"abc") as r:
            assert r.is_stream_consumed
            assert transport._n_idle == 1
            assert await r.aread() == b'{"echo": 3}'
        r = await client.post(server.url + "/v1/x", content=b"abcd")
        assert r.json() == {"echo": 4}
        assert server.connections == 1
