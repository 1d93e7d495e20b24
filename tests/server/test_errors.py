from __future__ import annotations

import pytest

from openmini.errors import ContextLengthExceeded, Overloaded

from .conftest import sse_events

CHAT = "/v1/chat/completions"
HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize("stream", [False, True])
async def test_overloaded_429_retry_after(client, backend, stream):
    backend.raise_before = Overloaded("queue full", retry_after=2.2)
    r = await client.post(CHAT, json={**HELLO, "stream": stream})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert r.json()["error"] == {"message": "queue full", "type": "rate_limit_error",
                                 "param": None, "code": "queue_full"}


async def test_context_length_before_stream(client, backend):
    backend.raise_before = ContextLengthExceeded("prompt too long")
    r = await client.post(CHAT, json={**HELLO, "stream": True})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"


async def test_failed_mid_stream_error_chunk(client, backend):
    backend.fail_after_first = ContextLengthExceeded("ran out of context")
    r = await client.post(CHAT, json={**HELLO, "stream": True})
    assert r.status_code == 200
    events = sse_events(r.text)
    assert events[-1]["error"]["code"] == "context_length_exceeded"
    assert "[DONE]" not in events
    assert events[1]["choices"][0]["delta"] == {"content": "Hello"}


async def test_failed_non_stream_is_http_error(client, backend):
    backend.fail_after_first = ContextLengthExceeded("ran out of context")
    r = await client.post(CHAT, json=HELLO)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"


async def test_unexpected_error_500_without_traceback(client, backend):
    backend.raise_before = RuntimeError("secret internals")
    r = await client.post(CHAT, json=HELLO)
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["type"] == "server_error"
    assert "secret" not in r.text and "Traceback" not in r.text


async def test_unexpected_error_mid_stream(client, backend):
    backend.fail_after_first = RuntimeError("secret internals")
    r = await client.post(CHAT, json={**HELLO, "stream": True})
    last = sse_events(r.text)[-1]
    assert last["error"]["type"] == "server_error" and "secret" not in r.text


@pytest.mark.parametrize("reason", ["error", "cancelled"])
async def test_internal_finish_reasons_never_reach_client(client, backend, reason):
    backend.finish_reason = reason
    r = await client.post(CHAT, json=HELLO)
    assert r.status_code == 500
    assert "finish_reason" not in r.text and r.json()["error"]["type"] == "server_error"
    r = await client.post(CHAT, json={**HELLO, "stream": True})
    events = sse_events(r.text)
    assert "error" in events[-1]
    assert all(c["choices"][0]["finish_reason"] is None for c in events[:-1])


async def test_lifespan_closes_backend(app, backend):
    async with app.router.lifespan_context(app):
        assert not backend.closed
    assert backend.closed


async def test_http_client_sees_error_envelope_for_405(client):
    r = await client.get(CHAT)
    assert r.status_code == 405
    assert "error" in r.json()


def test_no_module_state_shared_between_apps(config):
    from openmini.server.app import create_app

    from .fake_backend import FakeBackend

    a, b = create_app(config, FakeBackend()), create_app(config, FakeBackend())
    assert a.state.metrics.registry is not b.state.metrics.registry
    assert a.state.pipeline is not b.state.pipeline
