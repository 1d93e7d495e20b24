"""Batch lines run on the server's own endpoints, in-process: an ASGI call per line.

A line is exactly the HTTP request it describes (same route, validation, errors, extensions,
middleware), so every POST endpoint the server has is a batch endpoint and behaves in a batch
as it does live. No socket is involved; the scope carries the batch's priority under a key no
HTTP client can set (server/generate.py BATCH_SCOPE_KEY), which puts the request in the
engine's batch lane: after every live request, never in the slots kept for live ones.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message

from openmini.server.generate import BATCH_SCOPE_KEY

# The API's own bookkeeping: not something a batch line can ask for.
NOT_BATCHABLE = ("/v1/files", "/v1/batches")


def batch_endpoints(routes: list[BaseRoute]) -> dict[str, type[BaseModel]]:
    """Every POST route with a JSON body model, by path: what a batch may run."""
    out: dict[str, type[BaseModel]] = {}
    for route in routes:
        path = getattr(route, "path", "")
        field = getattr(route, "body_field", None)
        if "POST" not in (getattr(route, "methods", None) or ()) or field is None:
            continue
        if path.startswith(NOT_BATCHABLE) or "{" in path:
            continue
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            out[path] = model
    return out


class AppDispatch:
    """Runs (endpoint, body) on `app` as a POST and returns (status, response body)."""

    def __init__(self, app: ASGIApp, api_key: str | None):
        self.app = app
        self.headers = [(b"content-type", b"application/json")]
        if api_key:
            self.headers.append((b"authorization", f"Bearer {api_key}".encode()))

    async def __call__(self, endpoint: str, body: bytes, priority: int) -> tuple[int, bytes]:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": endpoint,
            "raw_path": endpoint.encode(), "query_string": b"", "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("batch", 0), "server": ("openmini-batch", 0),
            BATCH_SCOPE_KEY: priority,
        }
        sent = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the "client" never leaves; a cancel ends it
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)
