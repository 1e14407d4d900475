"""PDF documents across wires: an Anthropic ``document`` block becomes OpenAI's ``file``
part for OpenAI's own API (moved out of tool results, as images are), its own text for
a plain-text document or a search result, and a line saying so elsewhere; an OpenAI
``file`` part becomes a ``document`` block for Claude."""

from __future__ import annotations

from typing import Any

from switchtower.providers.anthropic_fields import tool_images_out
from switchtower.providers.anthropic_format import to_anthropic

DATA = "JVBERi0xLjQK"
PDF = {
    "type": "document",
    "title": "spec.pdf",
    "source": {"type": "base64", "media_type": "application/pdf", "data": DATA},
}
FILE = {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{DATA}",
                                 "filename": "spec.pdf"}}  # fmt: skip


def _carried(block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "anthropic_block", "block": block}


def test_openais_api_gets_a_pdf_as_a_file_part() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "compare"}, _carried(PDF)]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
        {"role": "tool", "tool_call_id": "t1", "content": [
            {"type": "text", "text": "read:"}, _carried(PDF)]},
        {"role": "user", "content": "and?"},
    ]  # fmt: skip
    out = tool_images_out(messages, files=True)
    assert out[0]["content"][1] == FILE
    assert out[2] == {"role": "tool", "tool_call_id": "t1", "content": "read:"}
    assert FILE in out[3]["content"]  # moved to the user turn after the tool results
    others = tool_images_out(messages)
    assert "only models that read documents" in others[0]["content"][1]["text"]
    assert DATA not in str(others)


def test_text_documents_and_search_results_are_their_text_for_everyone() -> None:
    text = {"type": "document", "title": "notes", "source": {"type": "text", "data": "eat"}}
    found = {"type": "search_result", "source": "https://x.test", "title": "X",
             "content": [{"type": "text", "text": "x is 4"}]}  # fmt: skip
    content = [_carried(text), _carried(found)]
    out = tool_images_out([{"role": "user", "content": content}])
    assert out[0]["content"] == [
        {"type": "text", "text": "[document: notes]\neat"},
        {"type": "text", "text": "[search result: X https://x.test]\nx is 4"},
    ]


def test_claude_gets_an_openai_file_part_as_a_document() -> None:
    sent = to_anthropic("m", [{"role": "user", "content": [FILE]}], {})
    assert sent["messages"][0]["content"] == [PDF]
    by_id = {"type": "file", "file": {"file_id": "file-abc"}}
    sent = to_anthropic("m", [{"role": "user", "content": [by_id]}], {})
    assert "only OpenAI reads" in sent["messages"][0]["content"][0]["text"]
