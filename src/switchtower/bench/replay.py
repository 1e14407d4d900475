"""The replay provider: answers each (request, model) with the recorded outcome.

Only the execution step of the pipeline is replaced. A request is matched to its
workload item by ``request.id`` (the item id) or, failing that, by the digest of its
messages; the configured model's ``model_id`` names the workload model. The completion
carries the recorded response, the replay cost of the tier that served it
(:meth:`TierPlan.cost`) and, in ``raw["replay"]``, the recorded quality and the
simulated delay:

* real-time and local models stream: the delay is the time to the first token
  (:data:`FIRST_TOKEN_S`);
* batch entries (the async tier) go through the production job queue (this provider
  is a batch API: ``submit_batch`` / ``poll_batch``) and answer after a delay drawn from
  a hash of the request id, between 10% and 100% of the model's ``max_delay_s``. The
  router only sends a request to the async tier when that bound fits its deadline
  class, so the answer arrives within the deadline class it serves; a request wrongly
  sent there misses.

No real time passes: the delay is recorded, never slept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from switchtower.bench.tiers import TierPlan
from switchtower.bench.workload import ModelOutcome, WorkloadItem, unit_hash
from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import UpstreamError, UpstreamRejectedError
from switchtower.protocols import ModelInfo
from switchtower.registries import providers
from switchtower.types import BatchItemResult, BatchPoll, Completion, Request, Tier, Usage

__all__ = ["FIRST_TOKEN_S", "ReplayProvider", "replay_delay"]

#: simulated seconds to the first token of a streaming (local or real-time) answer
FIRST_TOKEN_S: Mapping[Tier, float] = {"local": 0.3, "async": 0.0, "realtime": 0.6}


def replay_delay(request_id: str, model_name: str, tier: Tier, max_delay_s: float) -> float:
    """The simulated seconds until the answer (deterministic; see the module doc)."""
    if max_delay_s > 0.0:
        return max_delay_s * (0.1 + 0.9 * unit_hash("delay", request_id, model_name))
    return FIRST_TOKEN_S.get(tier, 0.0)


class ReplayProvider:
    """A :class:`~switchtower.protocols.Provider` backed by recorded outcomes."""

    name = "replay"

    def __init__(self, items: Iterable[WorkloadItem], plan: TierPlan) -> None:
        self.plan = plan
        self._items: dict[str, WorkloadItem] = {}
        self._by_digest: dict[str, WorkloadItem] = {}
        for item in items:
            self._items[item.id] = item
            self._by_digest.setdefault(item.request().digest, item)
        self.calls = 0
        self._batches: list[list[tuple[str, Request]]] = []

    def item_for(self, request: Request) -> WorkloadItem:
        item = self._items.get(request.id) or self._by_digest.get(request.digest)
        if item is None:
            raise UpstreamRejectedError(
                f"replay: no recorded item for request {request.id!r}", status=404
            )
        return item

    def outcome(self, item: WorkloadItem, model: ModelInfo) -> ModelOutcome:
        try:
            return item.outcomes[model.model_id]
        except KeyError:
            raise UpstreamRejectedError(
                f"replay: no recorded outcome of {model.model_id!r} for item {item.id!r}",
                model=model.name,
                status=404,
            ) from None

    async def complete(self, model: ModelInfo, request: Request) -> Completion:
        item = self.item_for(request)
        out = self.outcome(item, model)
        self.calls += 1
        cost = self.plan.cost(item, model.model_id, model.tier)
        delay = replay_delay(request.id, model.name, model.tier, model.max_delay_s)
        text = out.response or ""
        return Completion(
            text=text,
            model=model.name,
            tier=model.tier,
            usage=Usage(input_tokens=out.input_tokens, output_tokens=out.output_tokens),
            cost_usd=cost,
            finish_reason="stop",
            raw={
                "object": "chat.completion",
                "model": model.model_id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": out.input_tokens,
                    "completion_tokens": out.output_tokens,
                    "total_tokens": out.input_tokens + out.output_tokens,
                },
                "replay": {"item": item.id, "quality": out.quality, "delay_s": delay},
            },
        )

    async def stream(self, model: ModelInfo, request: Request) -> AsyncIterator[Mapping[str, Any]]:
        done = await self.complete(model, request)
        base = {"object": "chat.completion.chunk", "model": model.model_id}
        yield {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": done.text}}],
        }
        yield {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": done.raw["usage"],
        }

    # -- the batch API: batch entries go through the production job queue ----------------

    async def submit_batch(self, model: ModelInfo, items: Sequence[tuple[str, Request]]) -> str:
        self._batches.append(list(items))
        return f"replay-batch-{len(self._batches) - 1}"

    async def poll_batch(self, model: ModelInfo, batch_id: str) -> BatchPoll:
        """Every batch has ended when first polled (its delay is simulated per answer)."""
        items = self._batches[int(batch_id.rsplit("-", 1)[1])]
        results = []
        for cid, request in items:
            try:
                results.append(BatchItemResult(cid, await self.complete(model, request)))
            except UpstreamError as exc:
                results.append(BatchItemResult(cid, error_kind=exc.kind, error_message=str(exc)))
        return BatchPoll(batch_id, ended=True, detail="completed", results=tuple(results))

    async def cancel_batch(self, model: ModelInfo, batch_id: str) -> None:
        """Nothing to stop: a replayed batch has ended when first polled."""
        del model, batch_id

    def unavailable_reason(self, spec: ModelConfig) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


def _replay_factory(
    *, config: Config, files: Iterable[str] = (), **plan_options: Any
) -> ReplayProvider:
    """Registry factory: ``providers.create("replay", config=..., files=[...])``.

    The benchmark passes its own instance to the pipeline; this factory lets a config
    name ``provider: replay`` for a model and replay benchmark files directly.
    """
    from switchtower.bench.loaders import load_files

    items = load_files(list(files))
    return ReplayProvider(items, TierPlan.from_items(items, **plan_options))


providers.add("replay", _replay_factory)
