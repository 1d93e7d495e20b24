"""POST /v1/chat/completions"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openmini.server.convert import chat_request
from openmini.server.generate import CHAT, respond
from openmini.server.schemas import ChatCompletionRequest

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, http: Request) -> Response:
    pipeline = http.app.state.pipeline
    request = chat_request(body, pipeline.capabilities(body.model), CHAT.new_id())
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    return await respond(http, request, CHAT, bool(body.stream), include_usage)
