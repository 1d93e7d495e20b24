"""`suffix` to an OpenAI-compatible upstream (a scripted one on loopback): passed on in the
/v1/completions body, and an upstream that refuses it answers with its own error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from scripted_upstream import Reply, ScriptedUpstream, sse, usage

from openmini.backends.openai_compat import OpenAICompatBackend
from openmini.config import ServerConfig
from openmini.server.app import create_app
from openmini.types import Request, SamplingParams, TextDelta


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest_asyncio.fixture(loop_scope="function")
async def backend(upstream: ScriptedUpstream) -> AsyncIterator[OpenAICompatBackend]:
    upstream.reset()
    b = OpenAICompatBackend("scripted", upstream.base_url, {"mini": "upstream-mini"},
                            timeout_s=2)
    yield b
    await b.close()


def text_chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "text_completion", "created": 0, "model": "up",
            "choices": [{"index": 0, "text": text or "", "finish_reason": finish}]}


async def test_suffix_goes_upstream_in_the_completions_body(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    assert backend.capabilities.fim
    upstream.script(Reply(body=sse(text_chunk("a + b"), text_chunk(finish="stop"),
                                   usage(9, 3))))
    request = Request(model="mini", prompt="return ", suffix="\nprint(1)\n",
                      sampling=SamplingParams(max_tokens=8))
    events = [e async for e in backend.generate(request)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a + b"]
    sent = upstream.requests[-1]
    assert sent.path == "/v1/completions"
    assert (sent.body["prompt"], sent.body["suffix"]) == ("return ", "\nprint(1)\n")


async def test_an_upstream_that_refuses_suffix_answers_with_its_own_400(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    error = {"error": {"message": "suffix is not supported for this model",
                       "type": "invalid_request_error", "param": "suffix", "code": None}}
    upstream.script(Reply(400, body=[json.dumps(error).encode()], chunked=False))
    transport = httpx.ASGITransport(app=create_app(ServerConfig(), backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post("/v1/completions", json={"model": "mini", "prompt": "x = ",
                                                       "suffix": "\n"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "suffix"
    assert "suffix is not supported" in r.json()["error"]["message"]
