"""A canned OpenAI-compatible upstream for the router benches: answers every chat request at
once with the same two-token reply (streamed when asked: two content chunks, the finish, the
usage, [DONE]). It measures nothing itself: it is the fastest upstream there can be, so what
openmini adds in front of it shows.

    .venv/bin/python bench/canned_upstream.py PORT [DELAY_S]
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REPLY = ("Hello", " there")
USAGE = {"prompt_tokens": 9, "completion_tokens": len(REPLY), "total_tokens": 9 + len(REPLY)}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None,
           usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-canned", "object": "chat.completion.chunk",
                            "created": 0, "model": model,
                            "choices": [] if usage else [{"index": 0, "delta": delta,
                                                          "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def app(delay: float = 0.0) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", "m"))
        if delay:
            await asyncio.sleep(delay)
        if not body.get("stream"):
            return JSONResponse({
                "id": "chatcmpl-canned", "object": "chat.completion", "created": 0,
                "model": model, "usage": USAGE, "choices": [{
                    "index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "".join(REPLY)}}]})

        async def frames() -> Any:
            yield _chunk(model, {"role": "assistant", "content": REPLY[0]})
            yield _chunk(model, {"content": REPLY[1]})
            yield _chunk(model, {}, "stop")
            yield _chunk(model, {}, usage=USAGE)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(frames(), media_type="text/event-stream")

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/models", models), Route("/health", health)])


if __name__ == "__main__":
    port = int(sys.argv[1])
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    uvicorn.run(app(delay), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)
