"""A server-sent-events response that always closes its source.

Starlette's ``StreamingResponse`` leaves the body iterator suspended when the client goes
away, so the upstream call behind it would only close when the garbage collector gets to
it. This response listens for ``http.disconnect`` while streaming, cancels the stream
when it arrives (even while waiting on a slow upstream), and always ``aclose()``s the
body iterator and then runs ``on_close``: the pipeline writes a ``cancelled`` trace and
the provider closes its upstream connection before the request task ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

from starlette.types import Message, Receive, Scope, Send

__all__ = ["SSEResponse"]


class SSEResponse:
    """``text/event-stream`` from an async generator of already-encoded events."""

    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[bool], Awaitable[None]] | None = None,
        status_code: int = 200,
    ) -> None:
        self.body = body
        self.on_close = on_close
        self.status_code = status_code
        self.headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
            **(headers or {}),
        }
        #: True when the client went away before the end of the stream
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        ending = False

        async def listen() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    if not ending:  # servers report a disconnect after the last byte too
                        self.disconnected = True
                        task.cancel()
                    return

        listener = asyncio.create_task(listen())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in self.headers.items()],
                }
            )
            async for event in self.body:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            ending = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            task.uncancel()
        except OSError:  # the transport is gone (ASGI 2.4 servers raise on send)
            self.disconnected = True
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await self.body.aclose()
            if self.on_close is not None:
                await self.on_close(self.disconnected)
