"""Ask a local model server how much work it has, before queued work takes it.

The worker runs a queued job only while the hardware is idle. What this process sees is
its own calls in flight; a server shared with other gateway replicas or other clients
may be busy with theirs. A load probe asks the server itself:

- ``llamacpp``: llama.cpp's ``llama-server`` ``GET /slots`` (on by default; off with
  ``--no-slots``): the slots processing a task (``is_processing``, or a non-zero
  ``state`` in older builds).
- ``vllm``: vLLM's ``GET /metrics`` (Prometheus text): ``vllm:num_requests_running`` plus
  ``vllm:num_requests_waiting``, for the entry's model when the samples name one.

Both read the server root from the entry's ``base_url`` (``http://host:8080/v1`` ->
``http://host:8080``); ``options: {url: ...}`` names the probe's URL instead. A probe
answers a count of requests the server is working on or holding, or None when it could
not tell (no URL, an error, an answer it cannot read): the worker then goes by its own
view alone, and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

from switchtower.config.schema import Config
from switchtower.protocols import LoadProbe, ModelInfo

__all__ = ["LlamaCppSlots", "VllmMetrics", "build_probes", "probe_url"]

log = logging.getLogger(__name__)

#: a probe that has not answered by then is no answer (the worker ticks every second)
TIMEOUT_S = 1.0
_VLLM_QUEUE = ("vllm:num_requests_running", "vllm:num_requests_waiting")


def build_probes(models: Iterable[ModelInfo], config: Config) -> dict[str, LoadProbe]:
    """Entry name -> its configured probe (``load_probe``; unknown names raise)."""
    from switchtower.plugins import load_builtins
    from switchtower.registries import load_probes
    from switchtower.registry import config_key

    load_builtins()
    out: dict[str, LoadProbe] = {}
    for m in models:
        spec = m.spec.load_probe if m.spec is not None else None
        if spec is not None:
            with config_key(f"tiers.{m.tier}.models[{m.name}].load_probe"):
                out[m.name] = load_probes.create(spec.name, config=config, **spec.options)
    return out


def probe_url(info: ModelInfo, path: str, url: str | None) -> str | None:
    """``url`` when given, else ``path`` under the root of the entry's base URL."""
    if url:
        return url
    base = info.spec.base_url if info.spec is not None else None
    if not base:
        return None
    root = base.rstrip("/").removesuffix("/v1")
    return root + path


class _HttpProbe:
    """A probe that GETs ``path`` under the server root (or ``url``) and reads a count
    from the answer; an error or an unreadable answer is no answer (logged)."""

    path = ""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    async def load(self, model: ModelInfo) -> int | None:
        url = probe_url(model, self.path, self.url)
        if url is None:
            return None
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.get(url)
            response.raise_for_status()
            count, problem = self.read(response, model)
        except (httpx.HTTPError, ValueError) as exc:
            count, problem = None, str(exc)
        if problem:
            log.warning("load probe %s for %s: %s", url, model.name, problem)
        return count

    def read(self, response: httpx.Response, model: ModelInfo) -> tuple[int | None, str]:
        """(count, "") or (None, what is wrong with the answer)."""
        raise NotImplementedError


class LlamaCppSlots(_HttpProbe):
    """llama-server's ``/slots``: how many slots are processing a task."""

    path = "/slots"

    def read(self, response: httpx.Response, model: ModelInfo) -> tuple[int | None, str]:
        slots = response.json()
        if not isinstance(slots, Sequence) or isinstance(slots, str):
            return None, "not a list of slots"
        return sum(1 for s in slots if isinstance(s, Mapping) and _processing(s)), ""


def _processing(slot: Mapping[str, object]) -> bool:
    if "is_processing" in slot:
        return bool(slot["is_processing"])
    state = slot.get("state")
    return isinstance(state, int) and state != 0


class VllmMetrics(_HttpProbe):
    """vLLM's ``/metrics``: requests running plus waiting (for the entry's model)."""

    path = "/metrics"

    def read(self, response: httpx.Response, model: ModelInfo) -> tuple[int | None, str]:
        total, seen = 0.0, False
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name not in _VLLM_QUEUE:
                    continue
                named = sample.labels.get("model_name")
                if named is not None and named != model.model_id:
                    continue  # another model served by the same process
                total += sample.value
                seen = True
        return (round(total), "") if seen else (None, "no vLLM queue metrics")
