"""The ``contract`` scorer: did the answer keep the form the request asked for?

Agents break on form before they break on content: a tool call to a tool that was not
offered, arguments that are not JSON, a JSON-mode answer wrapped in prose. Those are
failures a program can see without a judge, so every answer to a request that states a
contract is checked against it, and the check is its outcome:

- ``response_format`` ``json_object``: the answer is one JSON object (as the client's
  ``json.loads`` would take it: a fenced or prose-wrapped object fails);
- ``response_format`` ``json_schema``: and it validates against the schema;
- ``tools``: every tool call names an offered function and its arguments are a JSON
  object valid against that function's ``parameters``; ``tool_choice`` ``required`` (or
  a named function) gets a call (of that function);
- under any of these, an answer cut off at the token limit or by a content filter, a
  refusal (the ``refusal`` of OpenAI's structured outputs), or an empty answer fails.

A request without a contract is not scored (None): passing nothing says nothing. The
outcome judges the form, not the content: feedback given later replaces it.
Streamed answers carry their text but not their tool calls, so for them only the
JSON checks run. Schemas are compiled once and kept (:func:`_validator`); a schema
that is itself invalid is not held against the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator

from switchtower.types import Completion, Outcome, Request

__all__ = ["ContractScorer", "check_contract"]

#: finish reasons that mean the answer did not end by itself
_CUT_OFF = {"length": "cut off at the token limit", "content_filter": "cut off by a content filter"}
_MAX_DETAIL = 200


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Validator | None:
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None
    return cls(schema)


def _validator(schema: object) -> Validator | None:
    """The validator of ``schema`` (compiled once per distinct schema), or None when it
    is not a valid JSON Schema."""
    if not isinstance(schema, Mapping):
        return None
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return _compiled(key)


def _schema_error(schema: object, value: Any) -> str | None:
    validator = _validator(schema)
    if validator is None:
        return None
    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or 'the value'}: {error.message}"


def _message(completion: Completion) -> Mapping[str, Any] | None:
    """The answer's OpenAI ``message`` (None for a streamed answer, which has no raw)."""
    choices = completion.raw.get("choices")
    if not isinstance(choices, Sequence) or not choices:
        return None
    first = choices[0]
    message = first.get("message") if isinstance(first, Mapping) else None
    return message if isinstance(message, Mapping) else None


def _tool_calls(message: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    calls = message.get("tool_calls") if message is not None else None
    if not isinstance(calls, Sequence):
        return []
    return [c for c in calls if isinstance(c, Mapping)]


def _offered(tools: object) -> dict[str, object]:
    """Offered function name -> its ``parameters`` schema (None when it has none)."""
    out: dict[str, object] = {}
    for tool in tools if isinstance(tools, Sequence) else ():
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters")
    return out


def _json_failure(text: str, response_format: Mapping[str, Any]) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"the answer is not JSON ({exc.args[0] if exc.args else exc})"
    if response_format.get("type") == "json_object":
        return None if isinstance(value, dict) else "the answer is JSON but not an object"
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    error = _schema_error(schema, value) if schema is not None else None
    return f"the answer does not match the schema: {error}" if error else None


def _call_failure(call: Mapping[str, Any], offered: Mapping[str, object]) -> str | None:
    fn = call.get("function")
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if not isinstance(name, str) or name not in offered:
        return f"a tool call names {name!r}, which was not offered"
    raw = fn.get("arguments") if isinstance(fn, Mapping) else None
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return f"the arguments of {name!r} are not JSON"
    if not isinstance(args, dict):
        return f"the arguments of {name!r} are not a JSON object"
    error = _schema_error(offered[name], args)
    return f"the arguments of {name!r} do not match its parameters: {error}" if error else None


def _required_tool(tool_choice: object) -> str | None:
    """``""`` when some tool call is required, a name when that function's is, else None."""
    if tool_choice == "required":
        return ""
    if isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return str(fn["name"])
    return None


def check_contract(request: Request, completion: Completion) -> tuple[bool, str] | None:
    """(kept, why) for an answer to a request with a contract; None without one."""
    params = request.params
    rf = params.get("response_format")
    json_mode = isinstance(rf, Mapping) and rf.get("type") in ("json_object", "json_schema")
    offered = _offered(params.get("tools"))
    if not json_mode and not offered:
        return None
    message = _message(completion)
    calls = _tool_calls(message)
    if completion.finish_reason in _CUT_OFF:
        return False, f"the answer was {_CUT_OFF[completion.finish_reason]}"
    refusal = message.get("refusal") if message is not None else None
    if isinstance(refusal, str) and refusal.strip():
        return False, f"the model refused: {refusal.strip()}"
    if not completion.text.strip() and not calls and completion.finish_reason != "tool_calls":
        return False, "the answer is empty"
    checked: list[str] = []
    if offered and message is not None:
        for call in calls:
            failure = _call_failure(call, offered)
            if failure:
                return False, failure
        required = _required_tool(params.get("tool_choice"))
        names = [fn.get("name") for c in calls if isinstance(fn := c.get("function"), Mapping)]
        if required is not None and (not names or (required and required not in names)):
            return False, f"tool_choice required a call{f' of {required!r}' if required else ''}"
        checked.append(f"{len(calls)} tool call(s)" if calls else "no tool call")
    if json_mode and not calls:
        assert isinstance(rf, Mapping)
        failure = _json_failure(completion.text, rf)
        if failure:
            return False, failure
        checked.append(f"{rf['type']} answer")
    if not checked:  # a streamed answer with tools and no JSON mode: nothing to see
        return None
    return True, "kept the contract: " + ", ".join(checked)


class ContractScorer:
    """:func:`check_contract` as an :class:`~switchtower.protocols.OutcomeScorer`."""

    name = "contract"

    def score(self, request: Request, completion: Completion) -> Outcome | None:
        checked = check_contract(request, completion)
        if checked is None:
            return None
        kept, why = checked
        return Outcome(success=kept, comment=_clip(why), source=self.name)
