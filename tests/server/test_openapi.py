"""The OpenAPI document matches the app: every route documented and nothing else, and a
schemathesis run against the live server finds no 5xx, no hang and no response that
contradicts the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fakes.openai_upstream import FakeOpenAI
from server.harness import LiveGateway, build_pipeline, gateway_config
from switchtower.store.sql import SqlTraceStore

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_route_is_documented_and_nothing_else(gateway: LiveGateway) -> None:
    served = {
        (re.sub(r":\w+}", "}", route.path), method.lower())  # Starlette's {id:path} is {id}
        for route in gateway.app.routes
        for method in (route.methods or ())
        if method != "HEAD"
    }
    doc = httpx.get(gateway.url + "/openapi.json").json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


def test_documented_errors_are_what_the_server_sends(gateway: LiveGateway) -> None:
    doc = httpx.get(gateway.url + "/openapi.json").json()
    chat = doc["paths"]["/v1/chat/completions"]["post"]["responses"]
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "nope", "messages": []})
    assert str(r.status_code) in chat
    assert set(r.json()["error"]) >= set(
        doc["components"]["schemas"]["Error"]["properties"]["error"]["required"]
    )


@pytest.fixture
def openai_only(
    fake_openai: FakeOpenAI, store: SqlTraceStore, tmp_path: Path
) -> Iterator[LiveGateway]:
    """The gateway in front of the fake OpenAI-compatible upstream only."""
    config = gateway_config(fake_openai, db=tmp_path / "traces.db")
    with LiveGateway(build_pipeline(config, store)) as gw:
        yield gw


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(openai_only: LiveGateway) -> None:
    gateway = openai_only
    schema = schemathesis.openapi.from_url(gateway.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # schemathesis leaves the document itself out
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=gateway.url, checks=CHECKS, timeout=10)

        fuzz()


def test_every_parameter_the_openai_sdk_sends_is_taken_and_documented(
    gateway: LiveGateway,
) -> None:
    """An agent built on the official SDK may send any argument of create(): none is an
    'unrecognized argument' here, and the OpenAPI document lists each."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    from switchtower.server.openai_wire import PARAM_CHECKS

    sdk = set(CompletionCreateParamsBase.__annotations__)
    own = {"model", "messages", "stream", "stream_options", "metadata"}
    assert sdk - own <= set(PARAM_CHECKS)
    doc = httpx.get(gateway.url + "/openapi.json").json()
    props = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert set(props) == set(PARAM_CHECKS) | own
