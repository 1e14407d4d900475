"""Model prices: config values first, else the ``genai-prices`` library; local is free.

Prices are USD per million tokens. Some hosted models have long-context price tiers, so
the library is asked about a small call (1,000 tokens each way) and the per-token price
of that call is scaled to a million: the price a typical agent request pays.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from switchtower.config.schema import Config, ModelConfig
from switchtower.errors import ConfigError
from switchtower.protocols import ModelInfo, Provider, TierInfo
from switchtower.providers.openai_compat import is_loopback
from switchtower.types import TIERS, Tier, Usage

__all__ = [
    "LOCAL_PROVIDERS",
    "PRICE_PROVIDER_IDS",
    "build_model_infos",
    "cost_usd",
    "library_cache_price",
    "library_price",
    "resolve_cache_price",
    "resolve_price",
]

#: providers that run on this machine: free per call unless config says otherwise
LOCAL_PROVIDERS = frozenset({"llamacpp"})
#: switchtower provider name -> genai-prices provider id
PRICE_PROVIDER_IDS: Mapping[str, str] = {"openai": "openai", "anthropic": "anthropic"}
_PROBE_TOKENS = 1000


def library_price(spec: ModelConfig) -> tuple[float, float] | None:
    """(input, output) USD per million tokens from genai-prices, or ``None`` if unknown.

    ``options.price_provider`` names the genai-prices provider id when the provider name
    does not (e.g. ``groq`` for a Groq model behind the ``openai`` provider).
    """
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    provider_id = spec.options.get("price_provider") or PRICE_PROVIDER_IDS.get(spec.provider)
    usage = PriceUsage(input_tokens=_PROBE_TOKENS, output_tokens=_PROBE_TOKENS)
    try:
        calc = calc_price(usage, model_ref=spec.model_id, provider_id=provider_id)
    except LookupError:
        return None
    scale = Decimal(1_000_000) / _PROBE_TOKENS
    return float(calc.input_price * scale), float(calc.output_price * scale)


def library_cache_price(spec: ModelConfig) -> tuple[float | None, float | None]:
    """(cache read, cache write) USD per million prompt tokens from genai-prices; ``None``
    where the library has no separate price."""
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    provider_id = spec.options.get("price_provider") or PRICE_PROVIDER_IDS.get(spec.provider)
    scale = Decimal(1_000_000) / _PROBE_TOKENS
    found: list[float | None] = []
    for kind in ("cache_read_tokens", "cache_write_tokens"):
        # the whole prompt from (or into) the cache: genai-prices counts cached tokens
        # inside input_tokens and prices them at the cache rate where it has one
        usage = PriceUsage(input_tokens=_PROBE_TOKENS, **{kind: _PROBE_TOKENS})
        try:
            calc = calc_price(usage, model_ref=spec.model_id, provider_id=provider_id)
        except LookupError:
            return None, None
        found.append(float(calc.input_price * scale))
    return found[0], found[1]


def resolve_cache_price(
    spec: ModelConfig, batch_discount: float = 1.0
) -> tuple[float | None, float | None]:
    """USD per million prompt tokens (read from, written to) the provider's prompt cache.

    Config values win; otherwise genai-prices; ``None`` where neither knows (the input
    price is then charged: an estimate that never understates). Batch entries are
    discounted like their other prices."""
    read, write = spec.cache_read_per_mtok, spec.cache_write_per_mtok
    if (read is None or write is None) and not _is_local(spec):
        found = library_cache_price(spec)
        read = found[0] if read is None else read
        write = found[1] if write is None else write
    factor = batch_discount if spec.batch else 1.0
    return (
        None if read is None else read * factor,
        None if write is None else write * factor,
    )


def _is_local(spec: ModelConfig) -> bool:
    return spec.provider in LOCAL_PROVIDERS or is_loopback(spec.base_url)


def resolve_price(spec: ModelConfig, batch_discount: float = 1.0) -> tuple[float, float]:
    """USD per million (input, output) tokens for one configured model.

    Config values win; otherwise genai-prices; a model on this machine (llamacpp, or an
    OpenAI-compatible server on loopback) costs 0. A hosted model the library does not
    know and config does not price is a :class:`ConfigError`. Batch entries are
    multiplied by ``batch_discount`` (config prices too: they are list prices).
    """
    given_in, given_out = spec.input_per_mtok, spec.output_per_mtok
    if given_in is None or given_out is None:
        found = library_price(spec)
        if found is None:
            if not _is_local(spec):
                raise ConfigError(
                    f"no price for model {spec.name!r} ({spec.provider}/{spec.model_id}): "
                    "genai-prices does not know it; set input_per_mtok and output_per_mtok",
                    key=f"models[{spec.name}]",
                )
            found = (0.0, 0.0)
        given_in = found[0] if given_in is None else given_in
        given_out = found[1] if given_out is None else given_out
    factor = batch_discount if spec.batch else 1.0
    return given_in * factor, given_out * factor


def cost_usd(model: ModelInfo, usage: Usage) -> float:
    """What one call with ``usage`` costs on ``model``, in USD (prompt-cache tokens at
    their own prices)."""
    return model.usage_cost(usage)


def build_model_infos(config: Config, providers: Mapping[str, Provider]) -> dict[Tier, TierInfo]:
    """One :class:`TierInfo` per tier (all three; unconfigured tiers have no models).

    Each configured model gets its prices resolved and its availability asked from its
    provider (``providers`` maps provider name -> instance); a model whose provider is
    not in ``providers`` is unavailable with that reason.
    """
    out: dict[Tier, TierInfo] = {}
    for tier in TIERS:
        tier_config = config.tiers.get(tier)
        infos: list[ModelInfo] = []
        specs = tier_config.models if tier_config is not None else ()
        discount = tier_config.batch_discount if tier_config is not None else 1.0
        for spec in specs:
            try:
                price_in, price_out = resolve_price(spec, discount)
                cache_read, cache_write = resolve_cache_price(spec, discount)
            except ConfigError as exc:
                raise ConfigError(exc.reason, key=f"tiers.{tier}.models[{spec.name}]") from exc
            provider = providers.get(spec.provider)
            if provider is None:
                reason: str | None = f"no provider named {spec.provider!r} is set up"
            else:
                reason = provider.unavailable_reason(spec)
            infos.append(
                ModelInfo(
                    name=spec.name,
                    tier=tier,
                    provider=spec.provider,
                    model_id=spec.model_id,
                    context_window=spec.context_window,
                    input_per_mtok=price_in,
                    output_per_mtok=price_out,
                    cache_read_per_mtok=cache_read,
                    cache_write_per_mtok=cache_write,
                    available=reason is None,
                    unavailable_reason=reason,
                    max_delay_s=spec.max_delay_s,
                    batch=spec.batch,
                    spec=spec,
                )
            )
        out[tier] = TierInfo(tier=tier, models=tuple(infos))
    return out
