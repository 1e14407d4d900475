"""What a request needs a model to take, and what each configured model takes.

A request needs ``vision`` when any message holds an image (a user's picture, a
screenshot a tool returned) and ``tools`` when it defines tools. A model takes what its
config entry's ``capabilities`` lists; without that list, what its provider says models
of its kind take (:func:`declared`). The router and the selector leave out a model that
lacks a need (``route/eligibility.py``), so ``model: "auto"`` never sends a screenshot to
a text-only local model; a concrete model name is the client's choice and is not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any

from switchtower.config.schema import ModelConfig
from switchtower.errors import UnsupportedContentError
from switchtower.types import CAPABILITIES, Capability, Request

__all__ = ["check_servable", "declared", "lacking", "required"]

_WHAT = {"tools": "defines tools", "vision": "holds images", "documents": "holds PDF documents"}
_FIELD = {"tools": "tools", "vision": "messages", "documents": "messages"}


def required(request: Request) -> frozenset[Capability]:
    """The capabilities ``request`` needs: ``tools`` when it defines any (``functions``,
    the older form, too), ``vision`` when any message (tool results included) holds an
    image part, ``documents`` when one holds a PDF (an OpenAI ``file`` part, an Anthropic
    ``document`` block)."""
    needs: set[Capability] = set()
    if request.params.get("tools") or request.params.get("functions"):
        needs.add("tools")
    for m in request.messages:
        content = m.get("content")
        if isinstance(content, list):
            for p in content:
                if isinstance(p, Mapping):
                    kind = _PART_NEEDS.get(p.get("type"))  # type: ignore[arg-type]
                    if kind == "documents" and not _is_pdf(p):
                        continue
                    if kind is not None:
                        needs.add(kind)
    return frozenset(needs)


#: content part type -> what it needs (``anthropic_block``: a block only some read)
_PART_NEEDS: dict[str, Capability] = {
    "image_url": "vision",
    "file": "documents",
    "anthropic_block": "documents",
}


def _is_pdf(part: Mapping[str, Any]) -> bool:
    """An OpenAI ``file`` part, or an Anthropic PDF ``document`` given whole (base64),
    which both Claude and OpenAI's API read. A plain-text document or a search result is
    text every model reads; a PDF by URL or Anthropic file id reaches Claude whole and
    others as a line, unrouted (OpenAI's chat API takes neither)."""
    if part.get("type") == "file":
        return True
    block = part.get("block")
    if not isinstance(block, Mapping) or block.get("type") != "document":
        return False
    source = block.get("source")
    return isinstance(source, Mapping) and source.get("type") == "base64"


def declared(spec: ModelConfig | None, provider: object = None) -> frozenset[Capability]:
    """What the model ``spec`` takes: its ``capabilities`` when configured, else its
    provider's default for it (a provider's optional ``capabilities(spec)`` method),
    else everything (a provider that does not say is not second-guessed)."""
    if spec is not None and spec.capabilities is not None:
        return frozenset(spec.capabilities)
    default = getattr(provider, "capabilities", None)
    if spec is not None and callable(default):
        return frozenset(c for c in default(spec) if c in CAPABILITIES)
    return frozenset(CAPABILITIES)


def check_servable(needs: Set[Capability], takes: Iterable[Set[Capability]]) -> None:
    """A 400 when no configured model (``takes``: each one's capabilities) takes every
    need: no retry or other tier would help, the deployment's config would."""
    if not needs:
        return
    missing: frozenset[Capability] | None = None
    for t in takes:
        lack = frozenset(needs - t)
        if not lack:
            return
        if missing is None or len(lack) < len(missing):
            missing = lack
    names = sorted(missing if missing is not None else needs)
    what = " and ".join(_WHAT[c] for c in sorted(needs))
    alone = "" if missing is None or set(needs) == set(names) else " together"
    raise UnsupportedContentError(
        f"the request {what}, and no configured model takes {' and '.join(sorted(needs))}"
        f"{alone}: list what a model takes in its capabilities "
        "(docs/routing.md#capabilities-images-and-tools)",
        field=_FIELD[names[0]],
    )


def lacking(needs: Set[Capability], takes: Set[Capability]) -> str | None:
    """Why a model that takes ``takes`` cannot serve a request that needs ``needs``."""
    missing = sorted(needs - takes)
    if not missing:
        return None
    what = " and ".join(_WHAT[c] for c in missing)
    names = ", ".join(missing)
    return f"the request {what}; the model does not take {names} (its capabilities)"
