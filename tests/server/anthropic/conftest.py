"""Fixtures for the Anthropic edge: the scripted backend (which can count tokens), the
official `anthropic` SDK over the app in-process, and an SSE parser for `event:` frames."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import pytest
import pytest_asyncio

from openmini.types import Request

from ..fake_backend import FakeBackend

MESSAGES = "/v1/messages"
HELLO: dict[str, Any] = {"model": "fake", "max_tokens": 32,
                         "messages": [{"role": "user", "content": "Hi"}]}


@dataclass
class CountingBackend(FakeBackend):
    """FakeBackend with `count_tokens` (the prompt's length in words, plus 10 per image)."""

    counted: list[Request] = field(default_factory=list)

    async def count_tokens(self, request: Request) -> int:
        self.counted.append(request)
        messages = request.messages or ()
        return sum(len(m.content.split()) + 10 * len(m.images) for m in messages)


@pytest.fixture
def backend() -> CountingBackend:
    return CountingBackend()


@pytest_asyncio.fixture(loop_scope="function")
async def sdk(app: Any) -> AsyncIterator[anthropic.AsyncAnthropic]:
    # this SDK's http client is httpx2's (httpx objects are refused)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")
    async with anthropic.AsyncAnthropic(base_url="http://test", api_key="unused",
                                        http_client=http, max_retries=0) as client:
        yield client


def sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) per frame of an Anthropic SSE body."""
    assert body.endswith("\n\n")
    out = []
    for block in body.split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: "), block
        data = json.loads(data_line[len("data: "):])
        assert data["type"] == name_line[len("event: "):]
        out.append((data["type"], data))
    return out
