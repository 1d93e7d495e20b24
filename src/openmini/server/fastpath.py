"""The completion routes' hot path: a valid JSON body goes straight to the route's endpoint.

FastAPI's per-request machinery (routing, dependency solving, two exit stacks, the exception
middleware) costs about a quarter of a millisecond right after a decode step, when the CPU
caches hold model weights rather than the interpreter's working set (docs/benchmarks.md,
"server overhead"). For the two completion routes this middleware does what FastAPI would:
read the body, parse it as JSON, validate it with the route's own pydantic model and call the
very same endpoint function, so there is still one request path per route.

Anything unusual goes to FastAPI unchanged, body replayed: another method or path, a content
type other than JSON, a body that is not valid JSON or does not validate. Errors are
therefore reported by the one handler that always reports them, with the same envelope and
the same parameter named. The endpoint's own errors (OpenMiniError) become the same envelope
the app's exception handler would send; anything else propagates to the safety net outside.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmini.errors import OpenMiniError
from openmini.server.errors import error_response

Endpoint = Callable[[Any, Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    model: type[BaseModel]  # the endpoint's body model
    endpoint: Endpoint
    route: BaseRoute  # set as scope["route"], as the router would (metrics labels)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json"
    return False


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives `body` once, then the real channel's messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class FastRoutes:
    def __init__(self, app: ASGIApp, routes: dict[str, FastRoute]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if fast is None or scope["method"] != "POST" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # gone before the body arrived: nothing to answer
            return
        try:
            parsed = fast.model.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # FastAPI reports it, as for every request
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = fast.route
        try:
            response = await fast.endpoint(parsed, Request(scope, receive))
        except OpenMiniError as exc:
            response = error_response(exc)
        await response(scope, receive, send)
