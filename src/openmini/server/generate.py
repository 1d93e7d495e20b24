"""The shared tail of the completion routes: run the pipeline, answer as SSE or one body."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from openmini.errors import InvalidRequest
from openmini.pipeline import Completion, collect
from openmini.server.disconnect import ClientDisconnected, WatchedResponse, run_until_disconnect
from openmini.server.metrics import metered
from openmini.server.responses import ResponseMeta, chat_body, completion_body
from openmini.server.sse import ChatChunks, ChunkFormat, SSEEncoder, TextChunks
from openmini.types import Event, Request

ROUTE_HEADER = "x-openmini-route"  # group=<name>; deployment=<id>; reason=<why> (router/)
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(frozen=True, slots=True)
class Api:
    """What differs between chat and text completions at the edge."""

    id_prefix: str
    chunks: Callable[[int], ChunkFormat]  # n -> a fresh per-request chunk format
    body: Callable[[Completion, ResponseMeta], dict[str, Any]]

    def new_id(self) -> str:
        return f"{self.id_prefix}{uuid.uuid4().hex}"


CHAT = Api("chatcmpl-", lambda n: ChatChunks(), chat_body)
TEXT = Api("cmpl-", TextChunks, completion_body)


LATENCY_HEADER = "x-openmini-max-latency-ms"  # a latency budget for model "auto"


def latency_budget(http: HTTPRequest) -> float | None:
    """The client's latency budget in ms (x-openmini-max-latency-ms), for model "auto"."""
    raw = http.headers.get(LATENCY_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise InvalidRequest(f"{LATENCY_HEADER} must be a positive number of milliseconds, "
                             f"not {raw!r}", param=LATENCY_HEADER)
    return value


# Set in the ASGI scope by the batch runner on the lines it dispatches (batch/dispatch.py):
# the batch's priority. Not reachable from HTTP: a client cannot put its request in the lane.
BATCH_SCOPE_KEY = "openmini.batch_priority"


def from_edge(http: HTTPRequest, request: Request) -> Request:
    """What the HTTP layer adds to a request: the latency budget, and a batch line's lane."""
    budget = latency_budget(http)
    batch_priority = http.scope.get(BATCH_SCOPE_KEY)
    if budget is None and batch_priority is None:
        return request
    return replace(request, max_latency_ms=budget, batch_priority=batch_priority)


async def respond(http: HTTPRequest, request: Request, api: Api, stream: bool,
                  include_usage: bool) -> Response:
    state = http.app.state
    request = from_edge(http, request)
    meta = ResponseMeta(id=request.request_id, created=int(time.time()), model=request.model)
    events = metered(state.pipeline.run(request), state.metrics, time.perf_counter())
    if stream:
        encoder = SSEEncoder(meta, api.chunks(request.n), request.n, include_usage)
        return WatchedResponse(lambda scope, receive, send: _stream(events, encoder, send,
                                                                    request))
    try:
        completion = await run_until_disconnect(http.receive, _collect(events, request.n))
    except ClientDisconnected:
        return Response(status_code=499)
    timing = f"engine;dur={completion.engine_seconds * 1000:.3f}"
    meta = replace(meta, model=answered_by(request))
    body = api.body(completion, meta)
    body.update(extension_fields(request))
    return JSONResponse(body, headers={
        "Server-Timing": timing, ROUTE_HEADER: request.route.header()})


def extension_fields(request: Request) -> dict[str, Any]:
    """Top-level fields of the response (streaming: of its first chunk): `context`, the
    code a `codebase` placed in the prompt (index/context.py)."""
    if request.codebase is None:
        return {}
    return {"context": [source.to_dict() for source in request.codebase.sources]}


def answered_by(request: Request) -> str:
    """The `model` a response shows: the deployment the router sent it to (router/)."""
    return request.route.deployment or request.model


async def _collect(events: AsyncGenerator[Event, None], n: int) -> Completion:
    try:
        return await collect(events, n)
    finally:
        await events.aclose()


async def _stream(events: AsyncGenerator[Event, None], encoder: SSEEncoder, send: Send,
                  request: Request) -> None:
    # The first event is awaited before the status line, so errors raised before any
    # output (overloaded, unknown model, prompt too long) still become HTTP errors; by then
    # the router has picked the deployment that answers.
    first = await anext(events, None)
    encoder.meta = replace(encoder.meta, model=answered_by(request))
    encoder.first_fields = extension_fields(request)
    await send_sse(send, encoder.encode(first, _following(events, encoder, request)), request)


async def send_sse(send: Send, frames: AsyncGenerator[bytes, None], request: Request) -> None:
    """An SSE response: the status line (with where the request went), then `frames`."""
    route = (ROUTE_HEADER.encode(), request.route.header().encode())
    await send({"type": "http.response.start", "status": 200,
                "headers": [*SSE_HEADERS, route]})
    try:
        async for data in frames:
            await send({"type": "http.response.body", "body": data, "more_body": True})
    finally:
        await frames.aclose()
    await send({"type": "http.response.body", "body": b"", "more_body": False})

async def _following(events: AsyncGenerator[Event, None], encoder: SSEEncoder,
                     request: Request) -> AsyncGenerator[Event, None]:
    """The events, each chunk's `model` kept on the deployment answering: a stream the
    router recovered on another deployment (router/recovery.py) says so from the switch."""
    try:
        async for event in events:
            deployment = request.route.deployment
            if deployment and deployment != encoder.meta.model:
                encoder.meta = replace(encoder.meta, model=deployment)
            yield event
    finally:
        await events.aclose()
