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


def test_a_file_in_a_tool_result_moves_out_for_openais_api() -> None:
    """Regression (review): a Responses function_call_output holding a PDF reached
    OpenAI's API inside a tool message, which takes text only."""
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "ok"}, FILE]},
    ]
    out = tool_images_out(messages, files=True)
    assert out[0] == messages[0]
    assert out[1] == {"role": "tool", "tool_call_id": "t1", "content": "ok"}
    assert FILE in out[2]["content"]
    plain = tool_images_out(messages)  # a server that does not read PDFs hears of it
    assert "a file was here" in plain[1]["content"]


def test_a_malformed_search_result_is_a_line_not_a_crash() -> None:
    odd = {"type": "search_result", "source": "u", "title": "t", "content": 5}
    empty = {"type": "document", "source": {"type": "text", "data": None}}
    out = tool_images_out([{"role": "user", "content": [_carried(odd), _carried(empty)]}])
    texts = [p["text"] for p in out[0]["content"]]
    assert all(t.startswith("[a ") for t in texts), texts
    assert "None" not in "".join(texts)


def test_pdfs_count_in_the_context_estimate() -> None:
    from switchtower.tokens import IMAGE_TOKENS, estimate_message_tokens

    big = "A" * 400_000  # ~300 KB decoded
    pdf = {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{big}"}}
    plain = estimate_message_tokens([{"role": "user", "content": [{"type": "text", "text": "x"}]}])
    with_pdf = estimate_message_tokens(
        [{"role": "user", "content": [{"type": "text", "text": "x"}, pdf]}]
    )
    assert with_pdf - plain == 30_000
    small = {"type": "anthropic_block", "block": PDF}
    assert estimate_message_tokens([{"role": "user", "content": [small]}]) >= IMAGE_TOKENS
