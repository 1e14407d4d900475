"""An ASGI app served by uvicorn on a thread of its own, on 127.0.0.1:<free port>."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ThreadedServer"]


class ThreadedServer:
    """Start: bind a free loopback port, serve, wait until uvicorn says it started.
    Stop: ask uvicorn to exit and join the thread. ``after`` runs on the server's event
    loop once serving ends (e.g. closing a pipeline's upstream clients)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: str = "off",
        graceful_s: int = 1,
        after: Callable[[], Awaitable[None]] | None = None,
        name: str = "server",
    ) -> None:
        self.app = app
        self.lifespan = lifespan
        self.graceful_s = graceful_s
        self.after = after
        self.name = name
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def uvicorn(self) -> uvicorn.Server | None:
        """The running uvicorn server (its ``server_state`` counts connections)."""
        return self._server

    def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan=self.lifespan,  # type: ignore[arg-type]
            timeout_graceful_shutdown=self.graceful_s,
        )
        self._server = server = uvicorn.Server(config)

        async def main() -> None:
            try:
                await server.serve(sockets=[sock])
            finally:
                if self.after is not None:
                    await self.after()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._server = None
        self._thread = None
