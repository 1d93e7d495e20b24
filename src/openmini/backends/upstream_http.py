"""HTTP to an upstream provider, its failures normalised (upstream_errors.py): one streamed
POST, one JSON POST. Shared by every upstream backend; they own their pooled client.

Leaving `open_stream`'s block early (the caller closed its event iterator: the client is
gone) closes the response before it was read to the end, and httpx then drops the
connection instead of pooling it: the upstream sees the disconnect and stops generating.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from openmini.backends.upstream_errors import protocol_error, status_error, transport_error

MAX_ERROR_BODY = 64 * 1024  # bytes of an error response read for its message


@asynccontextmanager
async def open_stream(client: httpx.AsyncClient, url: str, body: Mapping[str, Any],
                      headers: Mapping[str, str], provider: str
                      ) -> AsyncIterator[httpx.Response]:
    """A streamed POST whose status was 2xx. Transport errors while the block reads it are
    raised as `UpstreamError` too."""
    request = client.build_request("POST", url, json=body, headers=headers)
    response = await _send(client, request, provider, stream=True)
    try:
        if not response.is_success:
            raise status_error(provider, response.status_code, response.headers,
                               await _error_body(response))
        yield response
    except httpx.TransportError as exc:
        raise transport_error(provider, exc) from exc
    finally:
        await response.aclose()


async def post_json(client: httpx.AsyncClient, url: str, body: Mapping[str, Any],
                    headers: Mapping[str, str], provider: str) -> Any:
    """A POST's JSON answer; a body that is not JSON is a protocol error."""
    request = client.build_request("POST", url, json=body, headers=headers)
    response = await _send(client, request, provider, stream=False)
    if not response.is_success:
        raise status_error(provider, response.status_code, response.headers,
                           response.content[:MAX_ERROR_BODY])
    try:
        return response.json()
    except ValueError:
        raise protocol_error(provider, f"{url}: the answer is not JSON") from None


async def _send(client: httpx.AsyncClient, request: httpx.Request, provider: str,
                stream: bool) -> httpx.Response:
    """The response (its headers, when streamed). A server that closed a kept-alive
    connection while it went back to the pool answers the next request on it with nothing
    (`RemoteProtocolError` before any byte: llama.cpp's server does so after a stream): the
    request was never read, so it is sent once more, on another connection. Not a retry of
    an upstream's failure (those are the router's to decide)."""
    for attempt in (1, 2):
        try:
            return await client.send(request, stream=stream)
        except httpx.RemoteProtocolError as exc:
            if attempt == 2:
                raise transport_error(provider, exc) from exc
        except httpx.TransportError as exc:
            raise transport_error(provider, exc) from exc
    raise AssertionError("unreachable")


def parse_json(provider: str, data: str) -> Any:
    """One event's JSON data; malformed JSON is a protocol error."""
    try:
        return json.loads(data)
    except ValueError:
        raise protocol_error(provider, f"malformed JSON in the stream: {data[:200]!r}") from None


async def _error_body(response: httpx.Response) -> bytes:
    """What an error response's body says, as far as it can be read (the status decides the
    kind: a body cut off does not make it another)."""
    out = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            out += chunk
            if len(out) >= MAX_ERROR_BODY:
                break
    except httpx.TransportError:
        pass
    return bytes(out[:MAX_ERROR_BODY])
