"""What a request needs a model to take (images, tools), what each model takes, and the
router leaving out the models that lack a need."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from routing_fakes import classification, config, model, signals

from switchtower.config import load_config
from switchtower.config.schema import ModelConfig
from switchtower.errors import ConfigError, NoEligibleModelError, UnsupportedContentError
from switchtower.plugins import load_builtins
from switchtower.protocols import TierInfo
from switchtower.registries import providers
from switchtower.route.capabilities import check_servable, declared, lacking, required
from switchtower.route.eligibility import exclusion
from switchtower.route.router import PolicyRouter
from switchtower.types import CAPABILITIES, Request, Signals, Tier

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
TOOLS = [{"type": "function", "function": {"name": "grep", "parameters": {"type": "object"}}}]


def _request(*messages: dict[str, Any], **params: Any) -> Request:
    return Request(messages=messages, params=params, accept_deferred=True)


def test_text_needs_nothing() -> None:
    assert required(Request.from_text("summarize this")) == frozenset()
    parts = [{"type": "text", "text": "an image_url in words is not an image"}]
    assert required(_request({"role": "user", "content": parts})) == frozenset()


def test_an_image_anywhere_needs_vision() -> None:
    user = {"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE]}
    assert required(_request(user)) == {"vision"}
    # a screenshot returned by a tool (the /v1/messages wire puts it in the tool message)
    tool = {"role": "tool", "tool_call_id": "t1", "content": [IMAGE]}
    assert required(_request({"role": "user", "content": "look"}, tool)) == {"vision"}


def test_defined_tools_need_tools() -> None:
    assert required(_request({"role": "user", "content": "x"}, tools=TOOLS)) == {"tools"}
    functions = [{"name": "grep", "parameters": {"type": "object"}}]
    assert required(_request({"role": "user", "content": "x"}, functions=functions)) == {"tools"}
    assert required(_request({"role": "user", "content": "x"}, tools=[])) == frozenset()


def _spec(provider: str, **kw: Any) -> ModelConfig:
    return ModelConfig(name="m", provider=provider, **kw)


def test_provider_defaults() -> None:
    load_builtins()
    openai = providers.create("openai")
    every = {"tools", "vision", "documents"}
    assert declared(_spec("openai"), openai) == every
    assert declared(_spec("openai", base_url="https://api.openai.com/v1"), openai) == every
    # vLLM, Ollama, llama-server: images only when the entry says so
    local = _spec("openai", base_url="http://127.0.0.1:11434/v1")
    assert declared(local, openai) == {"tools"}
    assert declared(_spec("anthropic"), providers.create("anthropic")) == every
    assert declared(_spec("llamacpp"), providers.create("llamacpp")) == {"tools"}


def test_the_entry_overrides_the_provider() -> None:
    load_builtins()
    openai = providers.create("openai")
    vlm = _spec("openai", base_url="http://127.0.0.1:8000/v1", capabilities=["tools", "vision"])
    assert declared(vlm, openai) == {"tools", "vision"}
    assert declared(_spec("openai", capabilities=[]), openai) == frozenset()


def test_a_provider_that_does_not_say_is_not_second_guessed() -> None:
    assert declared(_spec("mine"), object()) == frozenset(CAPABILITIES)


def test_unknown_capability_is_a_config_error_naming_it() -> None:
    entry = {"name": "m", "provider": "openai", "capabilities": ["vision", "telepathy"]}
    bad = {"tiers": {"local": {"models": [entry]}}}
    with pytest.raises(ConfigError) as err:
        load_config(overrides=bad, environ={})
    assert "capabilities" in str(err.value)


def test_exclusion_names_what_is_missing() -> None:
    text_only = model("small", "local", capabilities=frozenset({"tools"}))
    why = exclusion(text_only, deadline="batch", context_tokens=10, needs={"vision"})
    assert why == lacking({"vision"}, {"tools"})
    assert why is not None
    assert "holds images" in why
    assert "vision" in why
    assert exclusion(text_only, deadline="batch", context_tokens=10, needs={"tools"}) is None
    assert exclusion(text_only, deadline="batch", context_tokens=10) is None


def _needing(*needs: str) -> Signals:
    return dataclasses.replace(signals(), needs=frozenset(needs))  # type: ignore[arg-type]


def _tiers(local_takes: frozenset[str], realtime_takes: frozenset[str]) -> dict[Tier, TierInfo]:
    free = {"input_per_mtok": 0.0, "output_per_mtok": 0.0}
    return {
        "local": TierInfo("local", (model("small", "local", capabilities=local_takes, **free),)),
        "realtime": TierInfo("realtime", (model("big", "realtime", capabilities=realtime_takes),)),
    }


def test_the_router_sends_images_past_a_text_only_local_model() -> None:
    router = PolicyRouter(config())
    tiers = _tiers(frozenset({"tools"}), frozenset(CAPABILITIES))
    text = Request.from_text("translate this", accept_deferred=True)
    assert router.route(classification("translate-text"), signals(), tiers, text).tier == "local"
    user = {"role": "user", "content": [{"type": "text", "text": "translate this"}, IMAGE]}
    d = router.route(classification("translate-text"), _needing("vision"), tiers, _request(user))
    assert d.tier == "realtime"
    assert d.candidates == {"realtime": ("big",)}
    assert "holds images" in d.explanation


def test_a_vision_model_declared_local_keeps_images_local() -> None:
    router = PolicyRouter(config())
    tiers = _tiers(frozenset(CAPABILITIES), frozenset(CAPABILITIES))
    user = {"role": "user", "content": [{"type": "text", "text": "translate this"}, IMAGE]}
    d = router.route(classification("translate-text"), _needing("vision"), tiers, _request(user))
    assert d.tier == "local"


def test_no_model_takes_the_need_is_an_error_that_says_so() -> None:
    router = PolicyRouter(config())
    tiers = _tiers(frozenset({"tools"}), frozenset({"tools"}))
    user = {"role": "user", "content": [IMAGE]}
    with pytest.raises(NoEligibleModelError) as err:
        router.route(classification("translate-text"), _needing("vision"), tiers, _request(user))
    assert "holds images" in str(err.value)


def test_a_need_no_configured_model_takes_is_a_400_naming_the_field() -> None:
    check_servable({"vision"}, [{"tools", "vision"}, {"tools"}])
    check_servable(frozenset(), [])
    with pytest.raises(UnsupportedContentError) as err:
        check_servable({"vision", "tools"}, [{"tools"}, frozenset()])
    assert err.value.field == "messages"
    assert "holds images" in str(err.value)
    assert "no configured model takes tools and vision together" in str(err.value)
    with pytest.raises(UnsupportedContentError) as err:
        check_servable({"vision"}, [{"tools"}])
    assert "no configured model takes vision:" in str(err.value)
    assert "docs/routing.md#capabilities-images-and-tools" in str(err.value)
    with pytest.raises(UnsupportedContentError) as err:
        check_servable({"tools"}, [frozenset()])
    assert err.value.field == "tools"


def test_each_need_covered_by_a_different_model_is_still_a_400() -> None:
    # one model takes images, another tools: none can serve a request needing both
    with pytest.raises(UnsupportedContentError):
        check_servable({"vision", "tools"}, [{"vision"}, {"tools"}])
    check_servable({"vision", "tools"}, [{"vision"}, {"tools", "vision"}])


def test_openai_base_url_from_the_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    load_builtins()
    openai = providers.create("openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")  # Ollama, via the SDK
    assert declared(_spec("openai"), openai) == {"tools"}
    monkeypatch.setenv("OPENAI_BASE_URL", "https://API.openai.com/v1")
    assert declared(_spec("openai"), openai) == {"tools", "vision", "documents"}


def test_a_single_word_is_not_a_list_of_capabilities() -> None:
    entry = {"name": "m", "provider": "openai", "capabilities": "vision"}
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"tiers": {"local": {"models": [entry]}}}, environ={})
    assert "a list of what the model takes: tools, vision, documents" in str(err.value)
    twice = ModelConfig(name="m", provider="openai", capabilities=["vision", "vision"])
    assert twice.capabilities == ("vision",)


def test_a_llamacpp_entry_cannot_claim_vision() -> None:
    load_builtins()
    llama = providers.create("llamacpp")
    why = llama.unavailable_reason(_spec("llamacpp", capabilities=["tools", "vision"]))
    assert why is not None
    assert "--mmproj" in why


def test_a_pdf_needs_documents_but_text_documents_do_not() -> None:
    pdf = {"type": "document", "source": {"type": "base64", "data": "JVBERi0=",
                                          "media_type": "application/pdf"}}  # fmt: skip
    text = {"type": "document", "source": {"type": "text", "data": "the spec"}}
    found = {"type": "search_result", "source": "u", "title": "t", "content": []}
    file_part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}

    def needs(*parts: dict[str, Any]) -> frozenset[str]:
        return required(_request({"role": "user", "content": list(parts)}))

    assert needs({"type": "anthropic_block", "block": pdf}) == {"documents"}
    assert needs(file_part) == {"documents"}
    assert needs({"type": "anthropic_block", "block": text}) == frozenset()
    assert needs({"type": "anthropic_block", "block": found}) == frozenset()
    tool = {
        "role": "tool",
        "tool_call_id": "t",
        "content": [{"type": "anthropic_block", "block": pdf}],
    }
    assert required(_request({"role": "user", "content": "read"}, tool)) == {"documents"}


def test_a_pdf_by_url_is_not_routed_as_one_openai_could_read() -> None:
    url = {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}
    parts = [{"type": "anthropic_block", "block": url}]
    assert required(_request({"role": "user", "content": parts})) == frozenset()


def test_capabilities_must_be_names() -> None:
    entry = {"name": "m", "provider": "openai", "capabilities": [{"a": 1}]}
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"tiers": {"local": {"models": [entry]}}}, environ={})
    assert "tools, vision, documents" in str(err.value)
