from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from openmini.config import ServerConfig
from openmini.server.app import create_app

from .fake_backend import FakeBackend


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
def app(config: ServerConfig, backend: FakeBackend) -> Any:
    return create_app(config, backend)


@pytest_asyncio.fixture(loop_scope="function")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def sse_events(body: str) -> list[Any]:
    """Parse an SSE body into JSON payloads; '[DONE]' stays a string."""
    assert body.endswith("\n\n")
    frames = [f for f in body.split("\n\n") if f]
    out: list[Any] = []
    for f in frames:
        assert f.startswith("data: "), f
        data = f[len("data: "):]
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


@pytest.fixture
def parse_sse() -> Callable[[str], list[Any]]:
    return sse_events
