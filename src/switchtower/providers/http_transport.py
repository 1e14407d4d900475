"""A lean HTTP/1.1 transport for the official SDKs' ``httpx2`` client.

The ``openai`` SDK sends every call through an ``httpx2.AsyncClient``, whose transport is
pluggable (``http_client=httpx2.AsyncClient(transport=...)`` is the SDK's documented way
to customise networking). The SDK's own aiohttp transport converts each ``httpx2``
request into an aiohttp one (a second URL object, header multidict, timer set, cookie
jar, tracing hooks) and the answer back again; that adaptor was ~12% of a gateway
request's CPU. This transport speaks HTTP/1.1 itself on asyncio: the request head is
written from the ``httpx2`` request's raw headers in one ``write``, the answer is parsed
by ``httptools`` (llhttp, the parser uvicorn uses) and handed back as an
``httpx2.Response`` whose body streams from the connection. Everything above the
transport (auth, headers, timeouts, status errors, retries policy, SSE) is still the SDK's.

Kept deliberately small: HTTP/1.1 over TCP, TLS through asyncio with ``httpx2``'s SSL
context, keep-alive pooling per (scheme, host, port) within ``httpx2.Limits``, connect /
read / pool timeouts from the request, and one transparent retry when a pooled
connection turns out to have been closed by the server before any byte of the answer
arrived (what every HTTP client does for keep-alive races). No proxies, no HTTP/2: when
the environment configures a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``),
:func:`sdk_http_client` keeps the SDK's own transport, which honours it and ``NO_PROXY``.
Errors are ``httpx2``'s (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``ReadError``, ``RemoteProtocolError``, ``PoolTimeout``), which the SDK maps to
``APIConnectionError`` / ``APITimeoutError`` as it does for its own transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools
import httpx2

__all__ = ["LeanTransport", "env_proxies", "sdk_http_client"]

_Key = tuple[bytes, str, int]
#: stop reading from a socket when this much answer is buffered and unread
_HIGH_WATER = 1 << 20


def _timeout_fired(fut: asyncio.Future[None], exc: type[Exception]) -> None:
    if not fut.done():
        fut.set_exception(exc("timed out"))


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: an asyncio protocol feeding an ``httptools`` parser."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.keep_alive = False
        self.complete = False
        self.received = 0
        self.until_eof = False
        self.buffered = 0
        self.chunks: deque[bytes] = deque()
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # -- asyncio protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()
            return
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides what it meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and self.until_eof and not self.complete:
            self.complete = True  # a body delimited by the end of the connection
            self._wake()
        elif not self.complete:
            self._fail(httpx2.RemoteProtocolError("server disconnected without an answer"))

    # -- httptools callbacks ---------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        # (llhttp forgets it once the message is complete)
        self.keep_alive = self.parser.should_keep_alive()
        names = {n.lower() for n, _ in self.headers}
        self.until_eof = b"content-length" not in names and b"transfer-encoding" not in names
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))
        self.buffered += len(body)
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- used by the transport -------------------------------------------------------

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    async def wait(self, timeout: float | None) -> None:
        """Until something arrives (data, the end, an error) or ``ReadTimeout``."""
        if self.error is not None:
            raise self.error
        fut = self.waiter = self.loop.create_future()
        timer = (
            self.loop.call_later(timeout, _timeout_fired, fut, httpx2.ReadTimeout)
            if timeout is not None
            else None
        )
        try:
            await fut
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()
        if self.error is not None and not self.chunks:
            raise self.error

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def reusable(self) -> bool:
        return (
            self.complete
            and not self.closed
            and self.error is None
            and not self.chunks
            and self.keep_alive
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def drop(self) -> None:
        """Close a connection that may belong to an event loop that is gone."""
        with contextlib.suppress(RuntimeError):
            self.close()
        self.closed = True


class _Body(httpx2.AsyncByteStream):
    """The answer's body, read from the connection as it arrives."""

    def __init__(self, pool: LeanTransport, conn: _Connection, read_timeout: float | None):
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx2.StreamClosed()
        try:
            while True:
                while conn.chunks:
                    yield conn.take()
                if conn.complete:
                    break
                await conn.wait(self._timeout)
        finally:
            self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn)

    async def aclose(self) -> None:
        self._release()


class LeanTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 keep-alive transport (see the module docstring)."""

    def __init__(
        self,
        *,
        limits: httpx2.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        limits = limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._max_connections = limits.max_connections
        self._slots: asyncio.Semaphore | None = None
        self._ssl = ssl_context
        self._idle: dict[_Key, list[_Connection]] = {}
        self._n_idle = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind(self) -> None:
        """Connections and the pool's semaphore belong to one event loop: a client reused
        under another loop (one ``asyncio.run`` per CLI command) starts a fresh pool."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        for conns in self._idle.values():
            for conn in conns:
                conn.drop()
        self._idle.clear()
        self._n_idle = 0
        self._loop = loop
        limit = self._max_connections
        self._slots = asyncio.Semaphore(limit) if limit else None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx2.create_ssl_context()
        return self._ssl

    # -- the pool --------------------------------------------------------------------

    def _take_idle(self, key: _Key) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            self._n_idle -= 1
            expired = self._expiry is not None and now - conn.idle_since > self._expiry
            if conn.closed or expired or conn.transport is None or conn.transport.is_closing():
                conn.close()
                continue
            return conn
        return None

    def release(self, conn: _Connection) -> None:
        if conn.loop is not self._loop:  # from a pool an event loop change discarded
            conn.drop()
            return
        if self._slots is not None:
            self._slots.release()
        if (
            self._closed
            or not conn.reusable
            or (self._max_idle is not None and self._n_idle >= self._max_idle)
        ):
            conn.close()
            return
        conn._reset()
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)
        self._n_idle += 1

    async def _connect(self, key: _Key, timeout: float | None) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if scheme == b"https" else None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(key),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    # -- httpx2 transport ------------------------------------------------------------

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        try:
            body = request.content
        except httpx2.RequestNotRead:
            body = await request.aread()
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        scheme = url.raw_scheme
        port = url.port or (443 if scheme == b"https" else 80)
        key: _Key = (scheme, url.host, port)
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)]
        head += [b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw]
        head.append(b"\r\n")
        data = b"".join(head) + body

        self._bind()
        if self._slots is not None:
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise httpx2.PoolTimeout("no free connection in the pool") from exc
        conn: _Connection | None = None
        try:
            for attempt in (1, 2):
                conn = self._take_idle(key)
                reused = conn is not None
                if conn is None:
                    conn = await self._connect(key, timeouts.get("connect"))
                assert conn.transport is not None
                conn.transport.write(data)
                try:
                    while not conn.headers_done:
                        await conn.wait(timeouts.get("read"))
                except httpx2.RemoteProtocolError:
                    conn.close()
                    if reused and attempt == 1 and conn.received == 0:
                        continue  # the server had closed this idle connection: once more
                    raise
                break
        except BaseException:
            if conn is not None:
                conn.close()
            if self._slots is not None:
                self._slots.release()
            raise
        assert conn is not None
        return self._response(request, conn, timeouts.get("read"))

    def _response(
        self, request: httpx2.Request, conn: _Connection, read_timeout: float | None
    ) -> httpx2.Response:
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if conn.reason:
            extensions["reason_phrase"] = conn.reason
        if conn.complete and conn.error is None:
            # the whole answer came with its head (a small JSON answer usually does):
            # hand it over read, and the connection back to the pool at once
            status, headers = conn.status, conn.headers
            content = b"".join(conn.chunks)
            conn.chunks.clear()
            conn.buffered = 0
            self.release(conn)  # resets the connection's answer state
            return httpx2.Response(
                status_code=status,
                headers=headers,
                content=content,
                request=request,
                extensions=extensions,
            )
        return httpx2.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, read_timeout),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.drop()
        self._idle.clear()
        self._n_idle = 0


def env_proxies() -> bool:
    """True when the environment sets an HTTP(S) proxy (``*_PROXY`` variables)."""
    proxies = urllib.request.getproxies()
    return any(scheme in proxies for scheme in ("http", "https", "all"))


_MAX_URLS = 64
_QUICK_KEYWORDS = frozenset(
    {"content", "data", "files", "json", "params", "headers", "cookies", "timeout", "extensions"}
)


class _QuickRequests(httpx2.AsyncClient):
    """``build_request`` (public ``httpx`` API) without the per-call merging that cannot
    change anything for the SDKs' calls.

    The SDKs call it with an absolute URL string and a list of header pairs. Then the
    client's ``base_url`` cannot apply, and with no cookies or query parameters on either
    side the general version only re-parses the same URL and re-merges the same default
    headers into a new ``Headers`` every call (about a tenth of an upstream call's CPU).
    Here parsed URLs are kept (a handful per client) and the headers merged as plain
    pairs, with the same result as ``Headers.update``: the client's headers, less those
    the request names, then all of the request's. Anything else takes the general path.
    """

    def build_request(self, method: str, url: httpx2.URL | str, **kw: Any) -> httpx2.Request:
        headers = kw.get("headers")
        parsed = self._absolute(url) if isinstance(url, str) else None
        if (
            parsed is None
            or not isinstance(headers, list)
            or not all(type(pair[0]) is str for pair in headers)
            or kw.keys() - _QUICK_KEYWORDS
            or any(kw.get(k) is not None for k in ("data", "files", "json"))
            or kw.get("params")
            or kw.get("cookies")
            or self.params
            or self.cookies
        ):
            return super().build_request(method, url, **kw)
        given = {pair[0].lower() for pair in headers}
        merged = [(k, v) for k, v in self.headers.multi_items() if k.lower() not in given]
        merged.extend(headers)
        extensions = kw.get("extensions")
        ext: dict[str, Any] = {} if extensions is None else dict(extensions)
        if "timeout" not in ext:
            timeout = kw.get("timeout", httpx2.USE_CLIENT_DEFAULT)
            if timeout is httpx2.USE_CLIENT_DEFAULT:
                timeout = self.timeout
            ext["timeout"] = httpx2.Timeout(timeout).as_dict()
        return httpx2.Request(
            method, parsed, content=kw.get("content"), headers=merged, extensions=ext
        )

    def _absolute(self, url: str) -> httpx2.URL | None:
        urls: dict[str, httpx2.URL] = self.__dict__.setdefault("_urls", {})
        parsed = urls.get(url)
        if parsed is None:
            parsed = httpx2.URL(url)
            if not parsed.is_absolute_url:
                return None
            if len(urls) >= _MAX_URLS:
                urls.clear()
            urls[url] = parsed
        return parsed


_quick_classes: dict[type[httpx2.AsyncClient], type[httpx2.AsyncClient]] = {}


def _quick(client_cls: type[httpx2.AsyncClient]) -> type[httpx2.AsyncClient]:
    """``client_cls`` with :class:`_QuickRequests`' ``build_request``."""
    cls = _quick_classes.get(client_cls)
    if cls is None:
        cls = _quick_classes[client_cls] = type(
            f"Quick{client_cls.__name__}", (_QuickRequests, client_cls), {}
        )
    return cls


def sdk_http_client(
    client_cls: type[httpx2.AsyncClient], limits: httpx2.Limits
) -> httpx2.AsyncClient:
    """An SDK's own client class (``DefaultAsyncHttpxClient``: its timeout and redirect
    defaults) on :class:`LeanTransport` with :class:`_QuickRequests`' request building,
    or on the SDK's default transport when a proxy is configured, since the lean
    transport does not speak to proxies."""
    if env_proxies():
        return client_cls(limits=limits)
    return _quick(client_cls)(limits=limits, transport=LeanTransport(limits=limits))
