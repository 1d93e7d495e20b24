"""The completion routes' hot path (server/fastpath.py): valid requests skip FastAPI's router,
everything else reaches it with the body intact, and both answer alike."""

from __future__ import annotations

from typing import Any

import pytest

from openmini.errors import Overloaded
from openmini.server.fastpath import FastRoutes

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


class Recorder:
    """Stands in for FastAPI below the hot path: records what reached it, answers 418."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"fastapi"})


async def call(app: Any, body: list[bytes], content_type: bytes = b"application/json",
               method: str = "POST", path: str = "/v1/chat/completions",
               cut: bool = False) -> tuple[int, bytes]:
    """Send `body` in chunks; `cut`: the client leaves before the last chunk ends the body."""
    scope = {"type": "http", "method": method, "path": path, "headers":
             [(b"content-type", content_type)], "query_string": b"", "app": None}
    messages = [{"type": "http.request", "body": b, "more_body": cut or i < len(body) - 1}
                for i, b in enumerate(body)]
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out.get("status", 0), out["body"]


def hot(recorder: Recorder, seen: list[Any]) -> FastRoutes:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from openmini.server.fastpath import FastRoute
    from openmini.server.schemas import ChatCompletionRequest

    async def endpoint(body: Any, http: Any) -> Any:
        seen.append((body, http.scope["route"]))
        if body.user == "busy":
            raise Overloaded("busy", retry_after=2.0)
        return PlainTextResponse("hot")

    route = Route("/v1/chat/completions", endpoint)
    return FastRoutes(recorder, {"/v1/chat/completions":
                                 FastRoute(ChatCompletionRequest, endpoint, route)})


@pytest.mark.asyncio
async def test_valid_body_in_chunks_goes_straight_to_the_endpoint() -> None:
    recorder, seen = Recorder(), []
    app = hot(recorder, seen)
    status, body = await call(app, [b'{"model": "fake", "messages": [{"role": "user", ',
                                    b'"content": "hi"}]}'], b"application/json; charset=utf-8")
    assert (status, body) == (200, b"hot")
    assert recorder.bodies == []
    (parsed, route), = seen
    assert parsed.messages[0].content == "hi" and route.path == "/v1/chat/completions"


@pytest.mark.asyncio
@pytest.mark.parametrize("payload", [b'{"model": "fake"', b'{"model": "fake", "messages": [],'
                                     b' "bogus": 1}', b"\xff\xfe"])
async def test_invalid_body_reaches_fastapi_intact(payload: bytes) -> None:
    recorder, seen = Recorder(), []
    status, body = await call(hot(recorder, seen), [payload[:5], payload[5:]])
    assert (status, body) == (418, b"fastapi")
    assert recorder.bodies == [payload] and seen == []


@pytest.mark.asyncio
@pytest.mark.parametrize("kwargs", [{"content_type": b"text/plain"}, {"method": "GET"},
                                    {"path": "/v1/models"}])
async def test_other_requests_are_not_touched(kwargs: dict[str, Any]) -> None:
    recorder, seen = Recorder(), []
    status, _ = await call(hot(recorder, seen), [b'{"model": "fake", "messages": []}'],
                           **kwargs)
    assert status == 418 and seen == []


@pytest.mark.asyncio
async def test_endpoint_error_gets_the_envelope() -> None:
    recorder, seen = Recorder(), []
    payload = b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}], "user": "busy"}'
    status, body = await call(hot(recorder, seen), [payload])
    assert status == 429 and b'"message":"busy"' in body


@pytest.mark.asyncio
async def test_disconnect_before_the_body_answers_nothing() -> None:
    recorder, seen = Recorder(), []
    status, body = await call(hot(recorder, seen), [b'{"model": '], cut=True)
    assert (status, body) == (0, b"")
    assert recorder.bodies == [] and seen == []


@pytest.mark.asyncio
async def test_app_serves_both_paths(client: Any) -> None:
    """Through the whole app: a valid request answered by the hot path, an invalid one by
    FastAPI's validation error handler, with the parameter named."""
    ok = await client.post("/v1/chat/completions", json=CHAT)
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == \
        "Hello world"
    bad = await client.post("/v1/chat/completions", json={**CHAT, "bogus": 1})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "bogus"
