"""Webhooks for jobs: a signed POST to the URL a deferred request named, once its job
has finished.

A client that takes a job handle (HTTP 202) would otherwise poll ``GET /v1/jobs/{id}``
for up to a day. It may name a webhook instead (``x-switchtower-webhook: URL``, or
``metadata.webhook``), under one of the prefixes ``queue.webhooks.allow`` lists: the
gateway then never calls a URL its operator did not allow.

The event follows Standard Webhooks (https://www.standardwebhooks.com), the scheme of
OpenAI's own webhooks, so a receiver checks it with a library it already has, e.g. the
official ``openai`` SDK's ``client.webhooks.verify_signature(body, headers, secret=...)``::

    POST <webhook>
    webhook-id: evt_<job id>          the same on every retry: receivers drop repeats
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

    {"id": "evt_<job id>", "object": "event", "type": "job.completed" | "job.failed",
     "created_at": <unix seconds the job finished>, "data": <the job>}

``data`` is the job as ``GET /v1/jobs/{id}`` shows it, without the answer: the receiver
fetches that from ``data.url`` with its key, so no answer ever leaves for a URL. Which
event is due is committed with the job's answer (``JobStore.finish``), so a crash cannot
lose it; a delivery that fails (no 2xx within ``timeout_s``, the whole delivery) is tried
again after 5 s, 20 s, 80 s, ... (at most 6 h apart) until ``max_attempts``. Redirects are
not followed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from switchtower.config.schema import WebhookConfig
from switchtower.errors import ConfigError, InvalidRequestError
from switchtower.queue.jobs import Job

__all__ = [
    "Delivery",
    "WebhookSender",
    "check_webhook",
    "event",
    "retry_delay",
    "signature",
    "signing_key",
]

SECRET_PREFIX = "whsec_"
MAX_URL_CHARS = 2048
#: the longest wait between two attempts
MAX_DELAY_S = 6 * 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt, after ``attempts`` failed ones: 5, 20, 80, ..."""
    return min(5.0 * 4.0 ** max(attempts - 1, 0), MAX_DELAY_S)


def _parts(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of an http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default, parts.path or "/"


#: in a path, what a server might resolve to outside the prefix: dot segments (also as
#: ``..;`` path parameters), backslashes, and encoded dots, slashes, backslashes or
#: percent signs (double encoding)
_TRAVERSAL = re.compile(r"(^|/)\.\.?(;[^/]*)?(/|$)|\\|%(2e|2f|5c|25)", re.IGNORECASE)


def _under(url: str, prefix: str) -> bool:
    """Same scheme, host and port, and a path at or below the prefix's path."""
    mine, base = _parts(url), _parts(prefix)
    if mine is None or base is None or mine[:3] != base[:3]:
        return False
    path, root = mine[3], base[3]
    if _TRAVERSAL.search(path):
        return False
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def check_webhook(url: object, allow: Sequence[str], where: str) -> str:
    """The webhook a request named, if the gateway allows it; else a 400 naming
    ``where`` (the allowed prefixes are the operator's and are not shown)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError(f"{where} must be a URL", field=where)
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequestError(f"{where} is longer than {MAX_URL_CHARS} characters", field=where)
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        # urlsplit drops tabs and newlines that the HTTP client would then refuse
        raise InvalidRequestError(
            f"{where} must not hold spaces or control characters", field=where
        )
    if not allow:
        raise InvalidRequestError(
            f"{where}: this gateway sends no webhooks (queue.webhooks.allow is empty)",
            field=where,
        )
    if _parts(url) is None:
        raise InvalidRequestError(f"{where} must be an http(s) URL", field=where)
    if not any(_under(url, prefix) for prefix in allow):
        raise InvalidRequestError(
            f"{where}: {url!r} is not under a URL this gateway allows (queue.webhooks.allow)",
            field=where,
        )
    return url


def _secret_key(secret: str, variable: str) -> bytes:
    """The HMAC key: ``whsec_<base64>`` decoded, any other text as its UTF-8 bytes (as
    the official SDKs' verifiers read it)."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"the text after {SECRET_PREFIX} in ${variable} is not base64",
            key="queue.webhooks.secret_env",
        ) from None


def signing_key(config: WebhookConfig, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The secret from ``config.secret_env``; :class:`ConfigError` when webhooks are
    allowed and it is missing or unreadable (``serve`` checks it before starting)."""
    if not config.allow:
        return None
    raw = (os.environ if environ is None else environ).get(config.secret_env, "")
    if not raw:
        raise ConfigError(
            f"webhooks are allowed but ${config.secret_env} (the signing secret) is not set",
            key="queue.webhooks.secret_env",
        )
    return _secret_key(raw, config.secret_env)


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def event(job: Job) -> tuple[str, bytes]:
    """``(webhook-id, body)`` of a finished job's event."""
    msg_id = f"evt_{job.id}"
    data = job.to_json()
    data.pop("webhook", None)
    body = {
        "id": msg_id,
        "object": "event",
        "type": f"job.{job.status}",
        "created_at": int(job.updated_at),
        "data": data,
    }
    return msg_id, json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt: delivered, or why not and whether trying again can help."""

    error: str | None = None
    retry: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class WebhookSender:
    """Sends jobs' events. Raises :class:`ConfigError` when webhooks are on and the
    signing secret is missing or unreadable: unsigned events are never sent."""

    def __init__(
        self,
        config: WebhookConfig,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self._key = signing_key(config, environ)
        self._client: httpx.AsyncClient | None = None

    async def send(self, job: Job) -> Delivery:
        url = job.webhook_url
        if url is None:
            return Delivery("the job names no webhook")
        if self._key is None or not any(_under(url, p) for p in self.config.allow):
            return Delivery("the webhook is no longer allowed (queue.webhooks.allow)")
        msg_id, body = event(job)
        timestamp = int(self.clock())
        headers = {
            "content-type": "application/json",
            "user-agent": "switchtower-webhooks",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._key, msg_id, timestamp, body),
        }
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout_s, follow_redirects=False, trust_env=False
            )
        try:
            # the client's timeout bounds each read; this bounds the whole delivery (a
            # receiver trickling bytes must not hold the worker)
            response = await asyncio.wait_for(
                self._client.post(url, content=body, headers=headers), self.config.timeout_s
            )
        except TimeoutError:
            return Delivery(f"no answer within {self.config.timeout_s:g} s", retry=True)
        except httpx.TransportError as exc:
            return Delivery(f"{type(exc).__name__}: {exc}"[:500], retry=True)
        except Exception as exc:  # a URL the client refuses, ...: trying again cannot help
            return Delivery(f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Delivery()
        return Delivery(f"HTTP {response.status_code}", retry=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
