"""Prices from genai-prices (compared with the library's own calculation), config
overrides, batch discounts, local models free, unknown hosted models refused."""

from __future__ import annotations

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from switchtower.config.load import load_config
from switchtower.config.schema import ModelConfig
from switchtower.errors import ConfigError
from switchtower.execute import build_providers
from switchtower.pricing import build_model_infos, cost_usd, resolve_cache_price, resolve_price
from switchtower.types import TIERS, Usage


def library(model: str, provider: str) -> tuple[float, float]:
    calc = calc_price(
        PriceUsage(input_tokens=10_000, output_tokens=10_000), model, provider_id=provider
    )
    return float(calc.input_price) * 100, float(calc.output_price) * 100


@pytest.mark.parametrize(
    ("model", "provider"), [("gpt-4.1-mini", "openai"), ("claude-sonnet-4-5", "anthropic")]
)
def test_price_from_genai_prices(model: str, provider: str) -> None:
    spec = ModelConfig(name=model, provider=provider)
    assert resolve_price(spec) == pytest.approx(library(model, provider))
    assert resolve_price(spec)[0] > 0


def test_batch_discount() -> None:
    spec = ModelConfig(name="b", provider="openai", model="gpt-4.1-mini", batch=True)
    full = library("gpt-4.1-mini", "openai")
    assert resolve_price(spec, 0.5) == pytest.approx((full[0] / 2, full[1] / 2))


def test_config_overrides_the_library() -> None:
    spec = ModelConfig(
        name="gpt-4.1-mini", provider="openai", input_per_mtok=9.0, output_per_mtok=11.0
    )
    assert resolve_price(spec) == (9.0, 11.0)
    half = spec.model_copy(update={"output_per_mtok": None})
    assert resolve_price(half) == pytest.approx((9.0, library("gpt-4.1-mini", "openai")[1]))


def test_local_models_are_free() -> None:
    assert resolve_price(ModelConfig(name="smol", provider="llamacpp")) == (0.0, 0.0)
    ollama = ModelConfig(name="qwen", provider="openai", base_url="http://localhost:11434/v1")
    assert resolve_price(ollama) == (0.0, 0.0)


def test_unknown_hosted_model_is_a_config_error() -> None:
    spec = ModelConfig(name="mystery", provider="openai", model="no-such-model-xyz",
                       base_url="https://llm.example.com/v1")  # fmt: skip
    with pytest.raises(ConfigError, match="mystery"):
        resolve_price(spec)


def test_cost_usd() -> None:
    config = load_config(environ={})
    infos = build_model_infos(config, build_providers(config))
    model = next(m for m in infos["realtime"].models if m.name == "gpt-4.1-mini")
    usage = Usage(input_tokens=1234, output_tokens=567)
    expected = calc_price(
        PriceUsage(input_tokens=1234, output_tokens=567), "gpt-4.1-mini", provider_id="openai"
    )
    assert cost_usd(model, usage) == pytest.approx(float(expected.total_price))


def test_build_model_infos_from_the_default_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    config = load_config(environ={})
    infos = build_model_infos(config, build_providers(config))
    assert tuple(infos) == TIERS
    by_name = {m.name: m for t in infos.values() for m in t.models}
    assert set(by_name) == set(config.model_names())
    gpt = by_name["gpt-4.1-mini"]
    assert not gpt.available
    assert gpt.unavailable_reason == "no OPENAI_API_KEY in the environment"
    assert (gpt.input_per_mtok, gpt.output_per_mtok) == pytest.approx(
        library("gpt-4.1-mini", "openai")
    )
    batch = by_name["gpt-4.1-mini-batch"]
    assert batch.batch
    assert batch.max_delay_s == 86400
    assert batch.input_per_mtok == pytest.approx(gpt.input_per_mtok * 0.5)
    assert batch.spec is not None
    local = by_name["smollm2-135m"]
    assert local.cost(1000, 1000) == 0.0


def test_missing_provider_marks_model_unavailable() -> None:
    config = load_config(environ={})
    infos = build_model_infos(config, {})
    model = infos["realtime"].models[0]
    assert not model.available
    assert "no provider" in (model.unavailable_reason or "")


def test_build_model_infos_names_the_unpriced_model() -> None:
    config = load_config(
        environ={},
        overrides={"tiers": {"realtime": {"models": [
            {"name": "mystery", "provider": "openai", "model": "no-such-model-xyz",
             "api_key_env": "X"}]}}},
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"tiers\.realtime\.models\[mystery\]"):
        build_model_infos(config, build_providers(config))


def test_prompt_cache_prices_from_the_library() -> None:
    """Claude: reads at a tenth of the input price, 5-minute writes at 1.25x, 1-hour
    writes at 2x; OpenAI: reads discounted, writes at the input price."""
    claude = ModelConfig(name="claude-sonnet-4-5", provider="anthropic")
    price_in, _ = resolve_price(claude)
    read, write, hour = resolve_cache_price(claude, price_in)
    assert read == pytest.approx(price_in * 0.1)
    assert write == pytest.approx(price_in * 1.25)
    assert hour == pytest.approx(price_in * 2.0)
    gpt = ModelConfig(name="gpt-4.1-mini", provider="openai")
    gpt_in, _ = resolve_price(gpt)
    gpt_read, gpt_write, gpt_hour = resolve_cache_price(gpt, gpt_in)
    assert 0 < gpt_read < gpt_in
    assert gpt_write == gpt_hour == pytest.approx(gpt_in)


def test_a_configured_input_price_carries_the_library_ratios() -> None:
    """A known model on a negotiated (or internal) price: its cache prices follow that
    price, never the list price (cached tokens never dearer than uncached ones)."""
    spec = ModelConfig(name="g", provider="openai", model="gpt-4.1-mini",
                       base_url="https://llm.internal.example/v1",
                       input_per_mtok=1.0, output_per_mtok=2.0)  # fmt: skip
    list_in, _ = library("gpt-4.1-mini", "openai")
    list_read = resolve_cache_price(ModelConfig(name="gpt-4.1-mini", provider="openai"), list_in)
    read, write, _ = resolve_cache_price(spec, 1.0)
    assert read == pytest.approx(list_read[0] / list_in)
    assert write == pytest.approx(1.0)
    free = spec.model_copy(update={"input_per_mtok": 0.0})
    assert resolve_cache_price(free, 0.0) == (0.0, 0.0, 0.0)


def test_prompt_cache_prices_config_batch_and_unknown() -> None:
    spec = ModelConfig(
        name="c", provider="anthropic", model="claude-sonnet-4-5", cache_read_per_mtok=0.5
    )
    price_in, _ = resolve_price(spec)
    read, write, _ = resolve_cache_price(spec, price_in)
    assert read == 0.5
    assert write == pytest.approx(price_in * 1.25)
    batch = spec.model_copy(update={"batch": True})
    assert resolve_cache_price(batch, price_in / 2, 0.5)[0] == 0.25
    local = ModelConfig(name="smol", provider="llamacpp")
    assert resolve_cache_price(local, 0.0) == (0.0, 0.0, 0.0)
    # neither config nor the library knows it: reads at the input price (never
    # understated), writes too, except Anthropic's published multipliers
    mystery = ModelConfig(name="m", provider="openai", model="no-such-model-xyz",
                          input_per_mtok=1.0, output_per_mtok=2.0,
                          base_url="https://llm.example.com/v1")  # fmt: skip
    assert resolve_cache_price(mystery, 1.0) == (1.0, 1.0, 1.0)
    claude_like = mystery.model_copy(update={"provider": "anthropic", "model": "claude-x"})
    assert resolve_cache_price(claude_like, 1.0) == (1.0, 1.25, 2.0)


def test_usage_cost_prices_each_part_of_the_prompt() -> None:
    usage = Usage(
        input_tokens=1000, output_tokens=100, cache_read_tokens=600, cache_write_tokens=300
    )
    assert usage.uncached_input_tokens == 100
    assert usage.priced(3.0, 15.0, 0.3, 3.75) == pytest.approx(
        (100 * 3.0 + 600 * 0.3 + 300 * 3.75 + 100 * 15.0) / 1e6
    )
    # no cache price known: the input price, never less
    assert usage.priced(3.0, 15.0) == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)
    # of the writes, the 1-hour ones at their own price
    hour = Usage(
        1000, 100, cache_read_tokens=600, cache_write_tokens=300, cache_write_1h_tokens=200
    )
    assert hour.priced(3.0, 15.0, 0.3, 3.75, 6.0) == pytest.approx(
        (100 * 3.0 + 600 * 0.3 + 100 * 3.75 + 200 * 6.0 + 100 * 15.0) / 1e6
    )
    # more cache tokens than prompt tokens (a provider's rounding): never negative
    assert Usage(10, 0, cache_read_tokens=20).uncached_input_tokens == 0
