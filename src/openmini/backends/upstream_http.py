"""HTTP to an upstream provider on aiohttp, its failures normalised (upstream_errors.py): one
streamed POST, one JSON POST, one GET for health. Shared by every upstream backend
(upstream_base.py owns the pooled session).

aiohttp, not httpx: a streamed request to a loopback upstream took 0.34 ms with aiohttp and
0.84 ms with httpx (uvloop, p50 of 400; bench/router_overhead.py measures what openmini adds
in front of an upstream, and the client was most of it).

Leaving `open_stream`'s block before the body was read to the end (the caller closed its
event iterator: the client is gone) closes the connection instead of pooling it: the
upstream sees the disconnect and stops generating.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from openmini.backends.upstream_errors import protocol_error, status_error, transport_error

MAX_ERROR_BODY = 64 * 1024  # bytes of an error response read for its message
HTTP_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


def new_session(timeout_s: float) -> aiohttp.ClientSession:
    """A pooled session (keep-alive 30 s): `timeout_s` bounds connecting and each wait for
    data (a stream may run longer, as long as it keeps sending). Made on the event loop."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout_s,
                                      sock_read=timeout_s),
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30))


class Stream:
    """A 2xx response being read: its lines (without line endings)."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str):
        self.response, self.provider = response, provider

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    async def lines(self) -> AsyncIterator[str]:
        try:
            async for raw in self.response.content:
                yield raw.decode("utf-8", "replace").rstrip("\r\n")
        except HTTP_ERRORS as exc:
            raise transport_error(self.provider, exc) from exc


@asynccontextmanager
async def open_stream(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any],
                      headers: Mapping[str, str], provider: str) -> AsyncIterator[Stream]:
    """A streamed POST whose status was 2xx. Transport errors while the block reads it are
    raised as `UpstreamError` too."""
    response = await _send(session, url, body, headers, provider)
    try:
        if not 200 <= response.status < 300:
            raise status_error(provider, response.status, response.headers,
                               await _error_body(response))
        yield Stream(response, provider)
    finally:
        if response.content.at_eof():
            response.release()  # read to the end: the connection goes back to the pool
        else:
            response.close()  # left early: the upstream sees the disconnect


async def post_json(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any],
                    headers: Mapping[str, str], provider: str) -> Any:
    """A POST's JSON answer; a body that is not JSON is a protocol error."""
    response = await _send(session, url, body, headers, provider)
    try:
        content = await response.read()
    except HTTP_ERRORS as exc:
        raise transport_error(provider, exc) from exc
    finally:
        response.release()
    if not 200 <= response.status < 300:
        raise status_error(provider, response.status, response.headers,
                           content[:MAX_ERROR_BODY])
    try:
        return json.loads(content)
    except ValueError:
        raise protocol_error(provider, f"{url}: the answer is not JSON") from None


async def get_ok(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str],
                 timeout_s: float) -> bool:
    """Whether a GET answers 200 within `timeout_s` (a health check)."""
    try:
        async with session.get(url, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            await response.read()
            return response.status == 200
    except HTTP_ERRORS:
        return False


async def _send(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any],
                headers: Mapping[str, str], provider: str) -> aiohttp.ClientResponse:
    """The response (its headers). A server that closed a kept-alive connection while it
    went back to the pool answers the next request on it with nothing (disconnected before
    any byte: llama.cpp's server does so after a stream): the request was never read, so it
    is sent once more, on another connection. Not a retry of an upstream's failure (those
    are the router's to decide)."""
    data = json.dumps(body).encode()
    sent_headers = {**headers, "Content-Type": "application/json"}
    for attempt in (1, 2):
        try:
            return await session.post(url, data=data, headers=sent_headers)
        except aiohttp.ClientConnectorError as exc:  # nobody listens: no second try
            raise transport_error(provider, exc) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if attempt == 2:  # a stale pooled connection (its write or its answer failed)
                raise transport_error(provider, exc) from exc
        except HTTP_ERRORS as exc:
            raise transport_error(provider, exc) from exc
    raise AssertionError("unreachable")


def parse_json(provider: str, data: str) -> Any:
    """One event's JSON data; malformed JSON is a protocol error."""
    try:
        return json.loads(data)
    except ValueError:
        raise protocol_error(provider, f"malformed JSON in the stream: {data[:200]!r}") from None


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
    """What an error response's body says, as far as it can be read (the status decides the
    kind: a body cut off does not make it another)."""
    try:
        return await response.content.read(MAX_ERROR_BODY)
    except HTTP_ERRORS:
        return b""
