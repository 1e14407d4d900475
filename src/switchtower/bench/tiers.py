"""How the replay maps a workload's models onto tiers, and what each call costs.

Rule for a model name (documented in ``docs/benchmark.md``), so unseen files work:

* an **API model** is one whose name, or the part after its last ``/``, starts with a
  known API vendor prefix (:data:`API_PREFIXES`: ``gpt-``, ``o1``, ``claude``,
  ``gemini``, ``command``, ...) or whose vendor part before a ``/`` is an API vendor
  (``openai/``, ``anthropic/``, ``google/``, ``cohere/``); every other model is
  **open-weight** (Mistral, Mixtral, Llama, Yi, CodeLlama, WizardLM, Qwen, ...).
* open-weight models run in the **local** tier at ``local_per_mtok`` USD per million
  tokens (0 by default: marginal cost on own hardware);
* API models run **realtime** at the recorded cost, or, where a file records none
  (RouteLLM), at tokens x price (:data:`PRICES`, then the ``genai-prices`` library),
  and **async** as ``<model>@batch``: the same model through a batch API at
  ``batch_discount`` (0.5) of the real-time cost, answering within ``async_delay_s``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from switchtower.bench.workload import ModelOutcome, WorkloadItem
from switchtower.config.schema import ModelConfig, TierConfig
from switchtower.errors import DataFormatError
from switchtower.types import DEADLINE_SECONDS, Tier

__all__ = [
    "API_PREFIXES",
    "API_VENDORS",
    "BATCH_SUFFIX",
    "PRICES",
    "ModelSlot",
    "TierPlan",
    "is_api_model",
    "lookup_price",
]

#: name prefixes of models only reachable through a vendor API
API_PREFIXES: tuple[str, ...] = (
    "gpt-",
    "chatgpt",
    "o1",
    "o3",
    "o4",
    "text-davinci",
    "claude",
    "gemini",
    "palm",
    "command",
    "grok",
)
#: vendor parts (before ``/``) of API model names
API_VENDORS: tuple[str, ...] = ("openai", "anthropic", "google", "cohere", "xai")
#: suffix of the async (batch API) entry of an API model
BATCH_SUFFIX = "@batch"
#: USD per million (input, output) tokens where a file records no cost; the RouteLLM
#: strong model, as the benchmark spec fixes it. Other names go to ``genai-prices``.
PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4-1106-preview": (10.0, 30.0),
}


def is_api_model(name: str) -> bool:
    low = name.lower().strip()
    vendor, _, base = low.rpartition("/")
    if vendor and vendor.split("/")[0] in API_VENDORS:
        return True
    return base.startswith(API_PREFIXES) or low.startswith(API_PREFIXES)


def lookup_price(model: str) -> tuple[float, float]:
    """USD per million (input, output) tokens of an API model with no recorded cost."""
    if model in PRICES:
        return PRICES[model]
    base = model.rpartition("/")[2]
    try:
        from genai_prices import Usage, calc_price

        calc = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), base)
        return float(calc.input_price), float(calc.output_price)
    except Exception as exc:  # the price library raises plain exceptions on unknown names
        raise DataFormatError(
            f"no recorded cost and no known price for API model {model!r}: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class ModelSlot:
    """One configured model entry: a workload model served in one tier."""

    name: str
    model: str
    tier: Tier


@dataclass(frozen=True, slots=True)
class TierPlan:
    """The workload's models on tiers, with the replay's prices and delays."""

    local: tuple[str, ...]
    api: tuple[str, ...]
    #: USD per million tokens (input and output) of local models on own hardware
    local_per_mtok: float = 0.0
    batch_discount: float = 0.5
    #: how long the async tier may take; it serves deadlines at least this long
    async_delay_s: float = DEADLINE_SECONDS["soon"]
    #: USD per million (input, output) tokens of API models whose files record no cost
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: blended USD per million tokens of each API model, for the selector's ordering
    list_prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_items(
        cls,
        items: Iterable[WorkloadItem],
        *,
        local_per_mtok: float = 0.0,
        batch_discount: float = 0.5,
        async_delay_s: float = DEADLINE_SECONDS["soon"],
    ) -> TierPlan:
        models: dict[str, None] = {}
        recorded: dict[str, list[tuple[float, int]]] = {}
        unpriced: set[str] = set()
        for item in items:
            for name, out in item.outcomes.items():
                models.setdefault(name)
                if out.cost_usd is None:
                    unpriced.add(name)
                else:
                    recorded.setdefault(name, []).append(
                        (out.cost_usd, out.input_tokens + out.output_tokens)
                    )
        api = tuple(m for m in models if is_api_model(m))
        local = tuple(m for m in models if not is_api_model(m))
        prices = {m: lookup_price(m) for m in api if m in unpriced}
        list_prices: dict[str, tuple[float, float]] = {}
        for m in api:
            if m in prices:
                list_prices[m] = prices[m]
            else:
                cost = sum(c for c, _ in recorded.get(m, []))
                tokens = sum(t for _, t in recorded.get(m, []))
                blended = cost / tokens * 1e6 if tokens else 0.0
                list_prices[m] = (blended, blended)
        return cls(
            local=local,
            api=api,
            local_per_mtok=local_per_mtok,
            batch_discount=batch_discount,
            async_delay_s=async_delay_s,
            prices=prices,
            list_prices=list_prices,
        )

    def subset(self, models: Iterable[str]) -> TierPlan:
        """The same plan with only ``models`` (one deployment of a mixed workload)."""
        keep = set(models)
        return replace(
            self,
            local=tuple(m for m in self.local if m in keep),
            api=tuple(m for m in self.api if m in keep),
        )

    # -- slots ------------------------------------------------------------------------

    def slots(self) -> tuple[ModelSlot, ...]:
        out = [ModelSlot(m, m, "local") for m in self.local]
        out += [ModelSlot(f"{m}{BATCH_SUFFIX}", m, "async") for m in self.api]
        out += [ModelSlot(m, m, "realtime") for m in self.api]
        return tuple(out)

    def slot(self, name: str) -> ModelSlot:
        for s in self.slots():
            if s.name == name:
                return s
        raise KeyError(name)

    def models_by_tier(self) -> dict[str, Tier]:
        """Configured model name -> tier (what ``fit_policy`` takes as ``models``)."""
        return {s.name: s.tier for s in self.slots()}

    def tier_configs(self, provider: str = "replay") -> dict[Tier, TierConfig]:
        """The benchmark's ``tiers`` section: every model served by the replay provider."""
        local = tuple(
            ModelConfig(
                name=m,
                provider=provider,
                model=m,
                context_window=1_000_000,
                input_per_mtok=self.local_per_mtok,
                output_per_mtok=self.local_per_mtok,
            )
            for m in self.local
        )

        def api_entry(m: str, batch: bool) -> ModelConfig:
            inp, outp = self.list_prices[m]
            return ModelConfig(
                name=f"{m}{BATCH_SUFFIX}" if batch else m,
                provider=provider,
                model=m,
                context_window=1_000_000,
                input_per_mtok=inp,
                output_per_mtok=outp,
                batch=batch,
                max_delay_s=self.async_delay_s if batch else 0.0,
            )

        tiers: dict[Tier, TierConfig] = {}
        if local:
            tiers["local"] = TierConfig(models=local)
        if self.api:
            tiers["async"] = TierConfig(
                models=tuple(api_entry(m, True) for m in self.api),
                batch_discount=self.batch_discount,
            )
            tiers["realtime"] = TierConfig(models=tuple(api_entry(m, False) for m in self.api))
        return tiers

    # -- costs ------------------------------------------------------------------------

    def realtime_cost(self, model: str, outcome: ModelOutcome) -> float:
        if outcome.cost_usd is not None:
            return outcome.cost_usd
        inp, outp = self.prices.get(model) or lookup_price(model)
        return (outcome.input_tokens * inp + outcome.output_tokens * outp) / 1e6

    def cost(self, item: WorkloadItem, model: str, tier: Tier) -> float:
        """What serving ``item`` with workload model ``model`` in ``tier`` costs."""
        outcome = item.outcomes[model]
        if tier == "local":
            return (outcome.input_tokens + outcome.output_tokens) * self.local_per_mtok / 1e6
        cost = self.realtime_cost(model, outcome)
        return cost * self.batch_discount if tier == "async" else cost

    def options(self, item: WorkloadItem) -> Sequence[ModelSlot]:
        """The slots that may serve ``item`` within its deadline."""
        limit = DEADLINE_SECONDS[item.deadline]
        return [
            s
            for s in self.slots()
            if s.model in item.outcomes and (s.tier != "async" or self.async_delay_s <= limit)
        ]

    def frontier(self, items: Iterable[WorkloadItem]) -> str:
        """The strongest API model: the one with the highest real-time cost over ``items``."""
        totals: dict[str, float] = {}
        for item in items:
            for m in self.api:
                if m in item.outcomes:
                    totals[m] = totals.get(m, 0.0) + self.realtime_cost(m, item.outcomes[m])
        if not totals:
            raise DataFormatError("the workload has no API model to compare against")
        return max(totals, key=lambda m: (totals[m], m))
