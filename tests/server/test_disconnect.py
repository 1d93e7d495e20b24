"""A client that goes away cancels the backend work at once (streaming and not)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .fake_backend import FakeBackend

HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


def http_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1234), "server": ("test", 80),
    }


async def call(app: Any, path: str, payload: dict[str, Any], leave: asyncio.Event) -> list[Any]:
    """Drive the app over raw ASGI; the client disconnects once `leave` is set."""
    body, sent = json.dumps(payload).encode(), []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(http_scope(path), receive, send), timeout=60)  # a hang guard
    return sent


async def test_stream_disconnect_cancels_backend(app, backend: FakeBackend):
    backend.forever, backend.delay = True, 0.01
    leave = asyncio.Event()

    async def leave_after_some_output() -> None:
        while len(backend.requests) == 0 or not backend.started.is_set():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # a few chunks go out
        leave.set()

    watcher = asyncio.create_task(leave_after_some_output())
    sent = await call(app, "/v1/chat/completions", {**HELLO, "stream": True}, leave)
    await watcher
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m["body"] for m in sent[1:]]
    assert any(b'"Hello"' in b for b in bodies)
    assert b"[DONE]" not in b"".join(bodies)
    assert backend.cancelled  # the backend stream was closed, not left running


async def test_stream_disconnect_while_queued(app, backend: FakeBackend):
    backend.delay = 10  # the first token never comes
    leave = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, leave.set)
    sent = await call(app, "/v1/chat/completions", {**HELLO, "stream": True}, leave)
    assert sent == []  # no status line for a client that is gone
    assert backend.cancelled


async def test_non_stream_disconnect_cancels_backend(app, backend: FakeBackend):
    backend.forever, backend.delay = True, 0.01
    leave = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, leave.set)
    sent = await call(app, "/v1/completions", {"model": "fake", "prompt": "x"}, leave)
    assert backend.started.is_set() and backend.cancelled
    assert sent[0]["status"] == 499


async def test_completed_request_is_not_cancelled(app, backend: FakeBackend):
    leave = asyncio.Event()  # never set: the client stays
    sent = await call(app, "/v1/chat/completions", {**HELLO, "stream": True}, leave)
    assert b"[DONE]" in b"".join(m.get("body", b"") for m in sent)
    assert not backend.cancelled


async def test_disconnect_counted_as_499(app, backend: FakeBackend, client):
    backend.forever, backend.delay = True, 0.01
    leave = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, leave.set)
    await call(app, "/v1/completions", {"model": "fake", "prompt": "x"}, leave)
    backend.forever, backend.delay = False, 0
    text = (await client.get("/metrics")).text
    assert 'openmini_requests_total{endpoint="/v1/completions",status="499"} 1.0' in text
