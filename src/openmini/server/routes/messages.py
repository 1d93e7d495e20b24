"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API (docs/anthropic.md).

The same internal Request as /v1/chat/completions, through the same pipeline; only the wire
shapes differ (server/anthropic/). Errors on these paths leave in Anthropic's envelope
(server/errors.py picks it by path).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from dataclasses import replace

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from openmini.errors import OpenMiniError
from openmini.pipeline import Completion, collect
from openmini.server.anthropic.convert import Converted, count_request, messages_request
from openmini.server.anthropic.responses import message_body, new_message_id
from openmini.server.anthropic.schemas import CountTokensRequest, MessagesRequest
from openmini.server.anthropic.stream import MessageStream
from openmini.server.disconnect import ClientDisconnected, WatchedResponse, run_until_disconnect
from openmini.server.generate import ROUTE_HEADER, answered_by, from_edge, send_sse
from openmini.server.metrics import metered
from openmini.types import Event
from openmini.types import Request as InternalRequest

router = APIRouter()


@router.post("/v1/messages", response_model=None)
async def create_message(body: MessagesRequest, http: Request) -> Response:
    pipeline = http.app.state.pipeline
    converted = messages_request(body, pipeline.capabilities(body.model), new_message_id())
    return await respond(http, converted)


@router.post("/v1/messages/count_tokens", response_model=None)
async def count_message_tokens(body: CountTokensRequest, http: Request) -> JSONResponse:
    pipeline = http.app.state.pipeline
    converted = count_request(body, pipeline.capabilities(body.model))
    try:
        tokens = await pipeline.count_tokens(converted.request)
    except OpenMiniError as exc:
        raise converted.wire_error(exc) from None
    return JSONResponse({"input_tokens": tokens})


async def respond(http: Request, converted: Converted) -> Response:
    state, request = http.app.state, from_edge(http, converted.request)
    events = metered(state.pipeline.run(request), state.metrics, time.perf_counter())
    if request.stream:
        return WatchedResponse(
            lambda scope, receive, send: _stream(events, request, converted, send))
    try:
        completion = await run_until_disconnect(http.receive, _collect(events, converted))
    except ClientDisconnected:
        return Response(status_code=499)
    timing = f"engine;dur={completion.engine_seconds * 1000:.3f}"
    shown = replace(request, model=answered_by(request))
    return JSONResponse(message_body(completion, shown), headers={
        "Server-Timing": timing, ROUTE_HEADER: request.route.header()})


async def _collect(events: AsyncGenerator[Event, None], converted: Converted) -> Completion:
    try:
        return await collect(events)
    except OpenMiniError as exc:
        raise converted.wire_error(exc) from None
    finally:
        await events.aclose()


async def _stream(events: AsyncGenerator[Event, None], request: InternalRequest,
                  converted: Converted, send: Send) -> None:
    # The first event is awaited before the status line, so errors raised before any output
    # (unknown model, a refused image, overloaded, prompt too long) are still HTTP errors;
    # by then the router has picked the deployment that answers.
    try:
        first = await anext(events, None)
    except OpenMiniError as exc:
        raise converted.wire_error(exc) from None
    encoder = MessageStream(request.request_id, answered_by(request), request.sampling.stop)
    await send_sse(send, encoder.encode(first, events), request)
