"""POST /v1/completions"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openmini.server.convert import completion_request
from openmini.server.generate import TEXT, respond
from openmini.server.schemas import CompletionRequest

router = APIRouter()


@router.post("/v1/completions", response_model=None)
async def create_completion(body: CompletionRequest, http: Request) -> Response:
    pipeline = http.app.state.pipeline
    request = completion_request(body, pipeline.capabilities(body.model), TEXT.new_id())
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    return await respond(http, request, TEXT, bool(body.stream), include_usage)
