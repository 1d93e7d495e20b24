"""OpenAICompatBackend against llama.cpp's own server (xllamacpp, the `tiny` model): text and
streaming as the server answers them itself, and count_tokens through its /apply-template and
/tokenize, equal to the usage it reports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from bench_peers import bench_common
from openmini.backends.openai_compat import OpenAICompatBackend
from openmini.models import resolve_model
from openmini.pipeline import collect
from openmini.types import ChatMessage, Done, Event, Request, SamplingParams, TextDelta

pytestmark = pytest.mark.model

MESSAGES = (ChatMessage("system", "Be brief."), ChatMessage("user", "Name three colours."))



@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with bench_common().xserver(str(resolve_model("tiny")), 1, 1, 1024, jinja=True) as server:
        yield server.url


@pytest_asyncio.fixture(loop_scope="function")  # the client lives in the test's loop
async def backend(upstream: str) -> AsyncIterator[OpenAICompatBackend]:
    b = OpenAICompatBackend("llama", upstream + "/v1", {"tiny-remote": "tiny"},
                            timeout_s=120)
    yield b
    await b.close()


async def test_streamed_text_equals_the_servers_own_answer(backend: OpenAICompatBackend,
                                                           upstream: str) -> None:
    req = Request(model="tiny-remote", messages=MESSAGES,
                  sampling=SamplingParams(max_tokens=10, temperature=0))
    events: list[Event] = [e async for e in backend.generate(req)]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and isinstance(events[-1], Done)
    body = {"model": "tiny", "max_tokens": 10, "temperature": 0,
            "messages": [{"role": m.role, "content": m.content} for m in MESSAGES]}
    theirs = httpx.post(upstream + "/v1/chat/completions", json=body, timeout=120).json()
    assert "".join(deltas) == theirs["choices"][0]["message"]["content"]
    assert events[-1].usage.completion_tokens == theirs["usage"]["completion_tokens"] == 10


async def test_count_tokens_equals_the_usage_it_reports(backend: OpenAICompatBackend) -> None:
    for req in (Request(model="tiny-remote", messages=MESSAGES,
                        sampling=SamplingParams(max_tokens=2)),
                Request(model="tiny-remote", prompt="The capital of France is",
                        sampling=SamplingParams(max_tokens=2))):
        out = await collect(backend.generate(req))
        assert await backend.count_tokens(req) == out.usage.prompt_tokens > 0
