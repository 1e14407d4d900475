"""The one exception tree of switchtower.

Every error the package raises on purpose derives from :class:`SwitchtowerError`.
Errors are converted only at the edges: HTTP error bodies in the server, messages and
exit codes in the CLI.

    SwitchtowerError
    ├── ConfigError                 invalid or unreadable configuration (file, key, why)
    ├── RegistryError               unknown component name in a registry
    ├── InvalidRequestError         the request itself is unusable
    │   ├── EmptyPromptError        no text to route
    │   ├── ContextTooLargeError    larger than every configured model's context window
    │   └── UnsupportedContentError tools, images or PDFs that no configured model takes
    ├── UnknownOperationError       an operation name that config does not declare
    ├── UnknownModelError           a model name that config does not declare
    ├── RoutingError                no decision could be made
    │   └── NoEligibleModelError    no available model can serve the request
    ├── UpstreamError               a model call failed (after retries)
    │   ├── UpstreamUnavailableError  connection refused, DNS, timeout
    │   ├── UpstreamRateLimitError    429 (carries retry_after)
    │   ├── UpstreamServerError       5xx
    │   └── UpstreamRejectedError     4xx other than 429 (bad request to upstream)
    ├── AllModelsFailedError        every eligible model failed; carries the attempts
    ├── TraceStoreError             the trace store could not read or write
    └── DataFormatError             a dataset or benchmark file could not be parsed
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchtower.types import Attempt, Decision

__all__ = [
    "AllModelsFailedError",
    "ConfigError",
    "ContextTooLargeError",
    "DataFormatError",
    "EmptyPromptError",
    "InvalidRequestError",
    "NoEligibleModelError",
    "RegistryError",
    "RoutingError",
    "SwitchtowerError",
    "TraceStoreError",
    "UnknownModelError",
    "UnknownOperationError",
    "UnsupportedContentError",
    "UpstreamError",
    "UpstreamRateLimitError",
    "UpstreamRejectedError",
    "UpstreamServerError",
    "UpstreamUnavailableError",
    "hide_urls",
]


class SwitchtowerError(Exception):
    """Base of every error switchtower raises on purpose."""

    #: short machine-readable kind, used in metrics, traces and HTTP error bodies
    kind: str = "error"


class ConfigError(SwitchtowerError):
    """Configuration is invalid. The message names the file, the key and the problem."""

    kind = "config"

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ""
        if file:
            where += f"{file}: "
        if key:
            where += f"{key}: "
        super().__init__(f"{where}{message}")
        self.file = file
        self.key = key
        self.reason = message


class RegistryError(SwitchtowerError):
    kind = "registry"


class InvalidRequestError(SwitchtowerError):
    kind = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EmptyPromptError(InvalidRequestError):
    kind = "empty_prompt"


class ContextTooLargeError(InvalidRequestError):
    kind = "context_too_large"


class UnsupportedContentError(InvalidRequestError):
    kind = "unsupported_content"


class UnknownOperationError(SwitchtowerError):
    kind = "unknown_operation"

    def __init__(self, message: str, *, field: str = "model") -> None:
        super().__init__(message)
        self.field = field


class UnknownModelError(SwitchtowerError):
    kind = "unknown_model"


class RoutingError(SwitchtowerError):
    kind = "routing"


class NoEligibleModelError(RoutingError):
    kind = "no_eligible_model"
    #: the plan up to the refusal (operation, signals, why), set by ``Pipeline.plan`` so
    #: a caller that serves requests can trace it (``Pipeline.record_refusal``)
    refused: Decision | None = None
    #: seconds until a model that is out (``health.py``) may be tried again, when only
    #: that refused the request: a 503 with Retry-After, whatever the client's hints
    retry_after: float | None = None


class UpstreamError(SwitchtowerError):
    """A single upstream call failed."""

    kind = "upstream"

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return False


class UpstreamUnavailableError(UpstreamError):
    kind = "upstream_unavailable"

    @property
    def retryable(self) -> bool:
        return True


class UpstreamRateLimitError(UpstreamError):
    kind = "upstream_rate_limit"

    @property
    def retryable(self) -> bool:
        return True


class UpstreamServerError(UpstreamError):
    kind = "upstream_server"

    @property
    def retryable(self) -> bool:
        return True


class UpstreamRejectedError(UpstreamError):
    kind = "upstream_rejected"


class AllModelsFailedError(SwitchtowerError):
    """Every eligible model failed; ``attempts`` lists what was tried, in order."""

    kind = "all_models_failed"

    def __init__(self, message: str, attempts: Sequence[Attempt]) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)

    @property
    def models_tried(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for a in self.attempts:
            seen.setdefault(a.model, None)
        return tuple(seen)


class TraceStoreError(SwitchtowerError):
    kind = "trace_store"


class DataFormatError(SwitchtowerError):
    kind = "data_format"


#: an http(s) URL in an upstream's error text (an internal address)
_URL = re.compile(r"https?://[^\s'\"<>]*[^\s'\"<>:;,.)\]]")  # not the punctuation after it


def hide_urls(text: str) -> str:
    """``text`` for a client: upstream addresses (which stay in the logs and traces)
    replaced by ``<upstream>``; the model names say which failed."""
    return _URL.sub("<upstream>", text)
