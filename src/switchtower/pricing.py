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
from switchtower.route.capabilities import declared
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


def library_cache_price(spec: ModelConfig) -> tuple[float, float, float] | None:
    """(input, cache read, cache write) USD per million prompt tokens from genai-prices
    (a cache price equals the input price where the library has no separate one), or
    ``None`` if it does not know the model."""
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    provider_id = spec.options.get("price_provider") or PRICE_PROVIDER_IDS.get(spec.provider)
    scale = Decimal(1_000_000) / _PROBE_TOKENS
    found: list[float] = []
    for kind in (None, "cache_read_tokens", "cache_write_tokens"):
        # the whole prompt from (or into) the cache: genai-prices counts cached tokens
        # inside input_tokens and prices them at the cache rate where it has one
        extra = {kind: _PROBE_TOKENS} if kind else {}
        usage = PriceUsage(input_tokens=_PROBE_TOKENS, **extra)
        try:
            calc = calc_price(usage, model_ref=spec.model_id, provider_id=provider_id)
        except LookupError:
            return None
        found.append(float(calc.input_price * scale))
    return found[0], found[1], found[2]


#: Anthropic's published prompt-cache multipliers of the input price: a 5-minute write,
#: a 1-hour write (used when neither config nor the library gives a price)
ANTHROPIC_WRITE, ANTHROPIC_WRITE_1H = 1.25, 2.0


def resolve_cache_price(
    spec: ModelConfig, input_price: float, batch_discount: float = 1.0
) -> tuple[float, float, float]:
    """USD per million prompt tokens (read from the cache, written for 5 minutes, written
    for 1 hour) for a model whose input costs ``input_price`` (resolved, batch discount
    applied).

    Config values win (times ``batch_discount`` on batch entries, like the others);
    otherwise the library's ratio to its own input price, applied to ``input_price`` (so
    a configured input price carries over); otherwise reads at the input price (never
    understated) and, for Anthropic models, writes at Anthropic's multiplier. A 1-hour
    write is Anthropic's 2x input unless configured; elsewhere, the write price."""
    anthropic = spec.provider == "anthropic"
    ratios = (1.0, ANTHROPIC_WRITE if anthropic else 1.0)
    given = (spec.cache_read_per_mtok, spec.cache_write_per_mtok, spec.cache_write_1h_per_mtok)
    if not _is_local(spec) and None in given:
        found = library_cache_price(spec)
        if found is not None and found[0] > 0:
            ratios = (found[1] / found[0], found[2] / found[0])
    read, write = input_price * ratios[0], input_price * ratios[1]
    write_1h = input_price * ANTHROPIC_WRITE_1H if anthropic else write
    factor = batch_discount if spec.batch else 1.0
    read, write, write_1h = (
        derived if value is None else value * factor
        for derived, value in zip((read, write, write_1h), given, strict=True)
    )
    return read, write, write_1h


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
                cache_read, cache_write, cache_write_1h = resolve_cache_price(
                    spec, price_in, discount
                )
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
                    cache_write_1h_per_mtok=cache_write_1h,
                    available=reason is None,
                    unavailable_reason=reason,
                    max_delay_s=spec.max_delay_s,
                    batch=spec.batch,
                    spec=spec,
                    capabilities=declared(spec, provider),
                )
            )
        out[tier] = TierInfo(tier=tier, models=tuple(infos))
    return out
