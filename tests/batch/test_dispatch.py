"""Batch lines on the server's own routes (batch/dispatch.py): which endpoints a batch may use,
the batch lane a line carries to the backend (and a live request does not), and the same
middleware a live request meets, auth included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from openmini.batch.dispatch import AppDispatch, batch_endpoints
from openmini.config import ServerConfig
from openmini.server.anthropic.schemas import CountTokensRequest, MessagesRequest
from openmini.server.app import create_app
from openmini.server.generate import BATCH_SCOPE_KEY
from openmini.server.routes import (
    batches,
    chat,
    code,
    completions,
    embeddings,
    files,
    health,
    messages,
    models,
)
from openmini.server.schemas import ChatCompletionRequest, CompletionRequest
from server.fake_backend import FakeBackend  # tests/ is on sys.path (rootdir)

CHAT_BODY = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}
MESSAGES_BODY = {"model": "fake", "max_tokens": 8,
                 "messages": [{"role": "user", "content": "Hi"}]}


def app_for(tmp_path: Path, backend: FakeBackend, **config: Any) -> Any:
    return create_app(ServerConfig(data_dir=str(tmp_path / "data"), **config), backend)


@pytest_asyncio.fixture(loop_scope="function")
async def live(tmp_path: Path) -> AsyncIterator[tuple[Any, FakeBackend, httpx.AsyncClient]]:
    backend = FakeBackend()
    app = app_for(tmp_path, backend)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield app, backend, client
    app.state.store.close()


def test_the_batch_endpoints(tmp_path: Path) -> None:
    app = app_for(tmp_path, FakeBackend())
    endpoints = app.state.batch_endpoints
    assert endpoints == {"/v1/chat/completions": ChatCompletionRequest,
                         "/v1/completions": CompletionRequest,
                         "/v1/messages": MessagesRequest,
                         "/v1/messages/count_tokens": CountTokensRequest,
                         "/v1/embeddings": embeddings.EmbeddingRequest,
                         # every POST route with a JSON body, extensions too
                         "/v1/code/outline": code.OutlineRequest,
                         "/v1/code/equivalent": code.EquivalentRequest}
    routers = (chat, completions, messages, models, health, files, batches, code, embeddings)
    every = [route for module in routers for route in module.router.routes]
    assert batch_endpoints(every) == endpoints
    # POST /v1/batches has a body model too, and POST /v1/files is a POST: neither is a line's
    assert batch_endpoints(batches.router.routes) == {}
    assert batch_endpoints(files.router.routes) == {}
    assert "/v1/batches" in {getattr(route, "path", None) for route in batches.router.routes}
    app.state.store.close()


async def test_a_dispatched_line_is_in_the_batch_lane(live: Any) -> None:
    app, backend, _ = live
    dispatch = AppDispatch(app, None)
    status, body = await dispatch("/v1/chat/completions", json.dumps(CHAT_BODY).encode(), 7)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "Hello world"
    assert backend.requests[-1].batch_priority == 7
    status, body = await dispatch("/v1/messages", json.dumps(MESSAGES_BODY).encode(), -2)
    assert status == 200 and json.loads(body)["type"] == "message"
    assert backend.requests[-1].batch_priority == -2
    status, body = await dispatch("/v1/completions",
                                  json.dumps({"model": "fake", "prompt": "Once"}).encode(), 0)
    assert status == 200 and json.loads(body)["object"] == "text_completion"
    assert backend.requests[-1].batch_priority == 0
    assert len(backend.requests) == 3


async def test_a_live_request_is_not(live: Any) -> None:
    _, backend, client = live
    r = await client.post("/v1/chat/completions", json=CHAT_BODY)
    assert r.status_code == 200 and backend.requests[-1].batch_priority is None
    r = await client.post("/v1/messages", json=MESSAGES_BODY)
    assert r.status_code == 200 and backend.requests[-1].batch_priority is None
    # a header of the scope key's name does not put it there
    r = await client.post("/v1/chat/completions", json=CHAT_BODY,
                          headers={BATCH_SCOPE_KEY: "1"})
    assert r.status_code == 200 and backend.requests[-1].batch_priority is None


async def test_a_line_is_validated_and_refused_as_live(live: Any) -> None:
    app, backend, _ = live
    dispatch = AppDispatch(app, None)
    bad = {**CHAT_BODY, "temperature": 7}
    status, body = await dispatch("/v1/chat/completions", json.dumps(bad).encode(), 0)
    error = json.loads(body)["error"]
    assert status == 400 and error["param"] == "temperature"
    status, body = await dispatch("/v1/chat/completions",
                                  json.dumps({**CHAT_BODY, "model": "nope"}).encode(), 0)
    assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"
    assert backend.requests == []


async def test_a_line_goes_through_auth(tmp_path: Path) -> None:
    backend = FakeBackend()
    app = app_for(tmp_path, backend, api_key="sekret")
    line = json.dumps(CHAT_BODY).encode()
    status, body = await AppDispatch(app, None)("/v1/chat/completions", line, 0)
    assert status == 401 and backend.requests == []  # the middleware saw it
    assert json.loads(body)["error"]["type"] == "authentication_error"
    status, _ = await AppDispatch(app, "wrong")("/v1/chat/completions", line, 0)
    assert status == 401 and backend.requests == []
    status, _ = await AppDispatch(app, "sekret")("/v1/chat/completions", line, 0)
    assert status == 200 and backend.requests[-1].batch_priority == 0
    app.state.store.close()


async def test_the_app_runner_uses_the_key_it_was_given(tmp_path: Path) -> None:
    """The server's runner dispatches with the server's own key: a batch on a server with an
    api_key runs its lines (the end-to-end run is in tests/server/routes/test_batches.py)."""
    app = app_for(tmp_path, FakeBackend(), api_key="sekret")
    dispatch = app.state.runner.execute
    assert isinstance(dispatch, AppDispatch)
    status, _ = await dispatch("/v1/chat/completions", json.dumps(CHAT_BODY).encode(), 0)
    assert status == 200
    app.state.store.close()


def test_creating_an_index_is_not_a_batch_endpoint(tmp_path: Path) -> None:
    app = app_for(tmp_path, FakeBackend())
    assert not [path for path in app.state.batch_endpoints if path.startswith("/v1/indexes")]
