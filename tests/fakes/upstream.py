"""The shared machinery of the fake upstreams: a Starlette app served by uvicorn in a
background thread on a free loopback port, a script of failures, and a request log."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fakes.threaded import ThreadedServer

__all__ = ["Action", "FakeUpstream", "prompt_words", "reply_words"]


@dataclass(frozen=True)
class Action:
    """One scripted behaviour for one call.

    ``status``: answer with this HTTP error (``retry_after`` sets the header as given);
    ``delay``: sleep this many seconds first; ``drop``: close the connection mid-response;
    ``drop_after``: (streams) close the connection after this many chunks;
    ``chunk_delay``: (streams) sleep this long after each chunk;
    ``text``: answer with exactly this text;
    ``empty``: (streams) answer 200 and end the stream before its first chunk (what
    llama-cpp-python's server does when the request fails inside the stream);
    ``error_after``: (streams) send an ``{"error": ...}`` event after this many chunks.
    """

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after: int | None = None
    chunk_delay: float = 0.0
    text: str | None = None
    empty: bool = False
    error_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def prompt_words(messages: list[dict[str, Any]]) -> list[str]:
    words: list[str] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            words.extend(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words.extend(part["text"].split())
                elif isinstance(part, dict) and isinstance(part.get("content"), str):
                    words.extend(part["content"].split())
    return words


def reply_words(messages: list[dict[str, Any]], text: str | None) -> list[str]:
    """The fake's answer: scripted text, else it echoes the last user message."""
    if text is not None:
        return text.split(" ") if text else []
    last = [m for m in messages if m.get("role") == "user"][-1:] or messages[-1:]
    return ["echo:", *prompt_words(last)]


class _Tracker:
    """ASGI middleware counting HTTP requests in flight (a stream counts until it ends)."""

    def __init__(self, app: ASGIApp, owner: FakeUpstream) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.owner._lock:
            self.owner._active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with self.owner._lock:
                self.owner._active -= 1


class FakeUpstream:
    """Base class: subclasses add routes with :meth:`routes`."""

    #: the path prefix clients put in their base URL ("/v1" for OpenAI, "" for Anthropic)
    base_path = ""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._script: dict[str | None, collections.deque[Action]] = collections.defaultdict(
            collections.deque
        )
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.default_text: str | None = None
        self._server: ThreadedServer | None = None
        self.port = 0

    # -- scripting -----------------------------------------------------------------------

    def script(self, *actions: Action, model: str | None = None) -> None:
        """Queue actions for the next calls (to ``model``, or to any model if ``None``)."""
        with self._lock:
            self._script[model].extend(actions)

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        model: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.script(*[Action(status=status, retry_after=retry_after)] * times, model=model)

    def delay(self, seconds: float, *, times: int = 1, model: str | None = None) -> None:
        self.script(*[Action(delay=seconds)] * times, model=model)

    def drop(self, *, times: int = 1, model: str | None = None, after: int | None = None) -> None:
        action = Action(drop=after is None, drop_after=after)
        self.script(*[action] * times, model=model)

    def slow_stream(self, chunk_delay: float, *, times: int = 1, model: str | None = None) -> None:
        self.script(*[Action(chunk_delay=chunk_delay)] * times, model=model)

    def reply(self, text: str, *, times: int = 1, model: str | None = None) -> None:
        self.script(*[Action(text=text)] * times, model=model)

    def next_action(self, model: str) -> Action:
        with self._lock:
            for key in (model, None):
                queue = self._script.get(key)
                if queue:
                    return queue.popleft()
        return Action(text=self.default_text)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.headers.clear()
            self.default_text = None

    # -- inspection ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    @property
    def active_requests(self) -> int:
        """HTTP requests still being answered (an unclosed stream stays counted)."""
        with self._lock:
            return self._active

    @property
    def open_connections(self) -> int:
        """TCP connections the server holds open (pooled keep-alive ones included)."""
        server = self._server.uvicorn if self._server is not None else None
        return len(server.server_state.connections) if server is not None else 0

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight; True if that happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active_requests == 0:
                return True
            time.sleep(0.01)
        return self.active_requests == 0

    # -- HTTP helpers for subclasses -----------------------------------------------------

    async def record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
        return body

    @staticmethod
    async def apply_delay(action: Action, request: Request) -> bool:
        """Sleep ``action.delay``; False if the client hung up meanwhile (then don't answer)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + action.delay
        while loop.time() < deadline:
            if await request.is_disconnected():
                return False
            await asyncio.sleep(min(0.02, max(0.0, deadline - loop.time())))
        return True

    @staticmethod
    def error_headers(action: Action) -> dict[str, str]:
        headers = dict(action.headers)
        if action.retry_after is not None:
            headers["retry-after"] = action.retry_after
        return headers

    @staticmethod
    def dropped() -> Response:
        """A response that promises more bytes than it sends and then fails: the server
        closes the connection mid-body, which clients see as a dropped connection."""

        async def body() -> AsyncIterator[bytes]:
            yield b'{"partial": '
            raise ConnectionAbortedError("fake upstream dropped the connection")

        return StreamingResponse(
            body(), media_type="application/json", headers={"content-length": "1000"}
        )

    @staticmethod
    def sse(
        events: AsyncIterator[bytes] | Callable[[], AsyncIterator[bytes]],
    ) -> StreamingResponse:
        stream = events() if callable(events) else events
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    @staticmethod
    def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(data, status_code=status, headers=headers)

    # -- lifecycle -----------------------------------------------------------------------

    def routes(self) -> list[Any]:
        raise NotImplementedError

    def start(self) -> FakeUpstream:
        app = _Tracker(Starlette(routes=self.routes()), self)
        self._server = ThreadedServer(app, graceful_s=1, name="fake upstream")
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=5)
        self._server = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
