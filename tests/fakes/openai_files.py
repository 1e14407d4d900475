"""The OpenAI Files API for :class:`~fakes.openai_upstream.FakeOpenAI` (used by its Batch
API): ``POST /v1/files`` (multipart: ``file`` and ``purpose``), ``GET /v1/files/{id}`` and
``GET /v1/files/{id}/content``."""

from __future__ import annotations

import email.parser
import email.policy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.upstream import FakeUpstream

__all__ = ["OpenAIFiles", "StoredFile"]

_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")


@dataclass
class StoredFile:
    """An uploaded (or batch-written) file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


def _parse_multipart(content_type: str, data: bytes) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body as {field: (filename, bytes)} (stdlib only)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


class OpenAIFiles(FakeUpstream):
    """Mixin base adding the Files API; ``files`` holds every file by id (uploads and
    batch output/error files), cleared by ``reset()``."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, StoredFile] = {}

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        """An OpenAI error body; provided by the concrete fake."""
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.files.clear()

    def file_routes(self) -> list[Route]:
        return [
            Route("/v1/files", self.create_file, methods=["POST"]),
            Route("/v1/files/{file_id}", self.retrieve_file, methods=["GET"]),
            Route("/v1/files/{file_id}/content", self.file_content, methods=["GET"]),
        ]

    def _fail(self, status: int, message: str) -> Response:
        return self.json(self.error_body(status, message), status=status)

    def _store(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile(f"file-{uuid.uuid4().hex[:24]}", filename, purpose, data)
        self.files[stored.id] = stored
        return stored

    async def create_file(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return self._fail(400, "expected multipart/form-data")
        fields = _parse_multipart(ctype, await request.body())
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if "file" not in fields or purpose not in _PURPOSES:
            return self._fail(400, "'file' and a valid 'purpose' are required")
        filename, data = fields["file"]
        return self.json(self._store(filename or "upload", purpose, data).to_json())

    async def retrieve_file(self, request: Request) -> Response:
        stored = self.files.get(request.path_params["file_id"])
        return self.json(stored.to_json()) if stored else self._fail(404, "No such file")

    async def file_content(self, request: Request) -> Response:
        stored = self.files.get(request.path_params["file_id"])
        if stored is None:
            return self._fail(404, "No such file")
        return Response(stored.data, media_type="application/octet-stream")
