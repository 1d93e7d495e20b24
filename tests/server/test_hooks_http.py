"""Named server-side hooks over HTTP on the real `tiny` engine: a plugin selected per request
changes the output; one that raises ends the request with a clear error (a 500 envelope, or
an in-band error chunk once a stream has started), never a dead stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig, ServerConfig
from openmini.hooks import HookToken, replace
from openmini.hooks.registry import HOOKS
from openmini.server.app import create_app

from .conftest import sse_events

pytestmark = pytest.mark.model

ASK = {"model": "tiny", "messages": [{"role": "user", "content": "Say hello."}],
       "max_tokens": 12, "temperature": 0}


class Upper:
    name = "upper"

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix

    def __call__(self, tok: HookToken) -> Any:
        return replace(tok.text.upper())


def explode(after: int = 0) -> Any:
    seen = 0

    def boom(tok: HookToken) -> None:
        nonlocal seen
        seen += 1
        if seen > after:
            raise RuntimeError("plugin broke")

    return boom


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    b = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=512,
                                  prefix_cache_tokens=512))
    yield b
    asyncio.run(b.close())


@pytest_asyncio.fixture(loop_scope="function")
async def http(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setitem(HOOKS._factories, "upper", Upper)
    monkeypatch.setitem(HOOKS._factories, "explode", explode)
    transport = httpx.ASGITransport(app=create_app(ServerConfig(), backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_a_named_plugin_changes_the_output(http: httpx.AsyncClient) -> None:
    plain = (await http.post("/v1/chat/completions", json=ASK)).json()
    upper = (await http.post("/v1/chat/completions", json={**ASK, "hooks": ["upper"]})).json()
    text = plain["choices"][0]["message"]["content"]
    assert text and upper["choices"][0]["message"]["content"] == text.upper()


async def test_a_raising_plugin_is_a_clear_500(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/chat/completions", json={**ASK, "hooks": ["explode"]})
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "hook_error"
    assert "'explode'" in error["message"] and "plugin broke" in error["message"]


async def test_a_raising_plugin_mid_stream_sends_an_error_chunk(http: httpx.AsyncClient
                                                                ) -> None:
    r = await http.post("/v1/chat/completions", json={
        **ASK, "stream": True, "hooks": [{"name": "explode", "args": {"after": 2}}]})
    events = sse_events(r.text)
    assert any(isinstance(e, dict) and "choices" in e for e in events)  # output had started
    error = next(e["error"] for e in events if isinstance(e, dict) and "error" in e)
    assert error["code"] == "hook_error" and "plugin broke" in error["message"]
    assert (await http.post("/v1/chat/completions", json=ASK)).status_code == 200
