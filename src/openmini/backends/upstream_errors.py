"""An upstream's failures -> `UpstreamError`, with `kind` from the transport or the HTTP
status alone (never from the message text), for every upstream backend.

| what happened                                   | kind       | retryable | status given  |
|-------------------------------------------------|------------|-----------|---------------|
| no connection (refused, DNS, TLS)               | connect    | yes       | 502           |
| any timeout (connect; a read waiting too long)  | timeout    | yes       | 504           |
| HTTP 408                                        | timeout    | yes       | 504           |
| HTTP 429 (`retry_after` from Retry-After)       | rate_limit | yes       | 429           |
| HTTP 5xx (`retry_after` when it sends one)      | server     | yes       | 502           |
| HTTP 401, 403 (our key, not the caller's)       | client     | no        | 502           |
| another HTTP 4xx                                | client     | no        | the same      |
| the connection broke off mid-answer             | disconnect | yes       | 502           |
| an answer that is not HTTP, a status that is    | protocol   | no        | 502           |
| not 2xx/4xx/5xx, malformed data                 |            |           |               |

A client error keeps the upstream's message, `param` and `code`, as an
`invalid_request_error`.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from openmini.errors import UpstreamError

_STATUS = {"connect": 502, "timeout": 504, "rate_limit": 429, "server": 502, "protocol": 502}
_TYPES = {"rate_limit": "rate_limit_error", "client": "invalid_request_error"}
_OUR_CREDENTIALS = (401, 403)
MAX_MESSAGE = 1000  # characters of an upstream's message kept


def upstream_error(provider: str, kind: str, message: str, *, status: int | None = None,
                   retry_after: float | None = None, param: str | None = None,
                   code: str | None = None) -> UpstreamError:
    error = UpstreamError(f"upstream '{provider}': {message}", kind=kind,
                          status=status or _STATUS.get(kind, 502), provider=provider,
                          retry_after=retry_after, param=param, code=code)
    if kind in _TYPES:
        error.type = _TYPES[kind]
    return error


def protocol_error(provider: str, message: str) -> UpstreamError:
    return upstream_error(provider, "protocol", message)


def transport_error(provider: str, exc: BaseException) -> UpstreamError:
    """No connection (refused, DNS, TLS) -> connect, timeouts -> timeout, an answer that is
    not HTTP -> protocol, the rest (a connection that broke off mid-answer: the upstream
    died or dropped it) -> disconnect, retryable: the router may move the request, or
    continue a broken stream, elsewhere (router/recovery.py)."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return upstream_error(provider, "timeout", f"no answer in time ({what})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return upstream_error(provider, "connect", f"cannot connect ({what})")
    if isinstance(exc, aiohttp.ClientResponseError):
        return upstream_error(provider, "protocol", f"the answer is not HTTP ({what})")
    return upstream_error(provider, "disconnect", f"the answer broke off ({what})")


def status_error(provider: str, status: int, headers: Mapping[str, str],
                 body: bytes) -> UpstreamError:
    """A non-2xx response, its body read."""
    message, param, code = error_detail(body)
    said = f"HTTP {status}" + (f": {message}" if message else "")
    retry_after = retry_after_seconds(headers.get("retry-after"))
    if status == 429:
        return upstream_error(provider, "rate_limit", said, retry_after=retry_after, code=code)
    if status == 408:
        return upstream_error(provider, "timeout", said)
    if status >= 500:
        return upstream_error(provider, "server", said, retry_after=retry_after, code=code)
    if status in _OUR_CREDENTIALS:
        return upstream_error(provider, "client", f"rejected this server's credentials ({said})",
                              status=502)
    if 400 <= status < 500:
        return upstream_error(provider, "client", message or f"HTTP {status}", status=status,
                              param=param, code=code)
    return upstream_error(provider, "protocol", f"unexpected HTTP {status}")


def error_detail(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) from an error body: OpenAI's `{"error": {...}}`, a bare
    `{"message": ...}` (vLLM), `{"error": "text"}`, or the body's text itself."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:MAX_MESSAGE] or None), None, None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        data = data["error"]
    if not isinstance(data, dict):
        return str(data)[:MAX_MESSAGE], None, None
    message = data.get("message", data.get("error"))
    return (_text(message), _text(data.get("param")), _text(data.get("code")))


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return (value if isinstance(value, str) else json.dumps(value))[:MAX_MESSAGE]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: a number of seconds, or an HTTP date (RFC 9110);
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
