"""Against a real uvicorn server on a socket, with the official `openai` SDK as the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio
import uvicorn
from openai.types.chat import ChatCompletionMessageParam

from openmini.config import ServerConfig
from openmini.errors import Overloaded
from openmini.server import run as run_module
from openmini.server.app import create_app

from .fake_backend import FakeBackend

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]


@pytest_asyncio.fixture(loop_scope="function")  # the server must share the test's loop
async def live(backend: FakeBackend) -> AsyncIterator[str]:
    app = create_app(ServerConfig(), backend)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)
    assert backend.closed  # the lifespan closed the backend


@pytest.fixture
def sdk(live: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{live}/v1", api_key="unused", max_retries=0)


async def test_sdk_chat(sdk: openai.AsyncOpenAI):
    completion = await sdk.chat.completions.create(model="fake", messages=HELLO,
                                                   logprobs=True, top_logprobs=1)
    choice = completion.choices[0]
    assert choice.message.content == "Hello world" and choice.finish_reason == "stop"
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert choice.logprobs.content[0].top_logprobs[0].token == "Hello#0"
    assert completion.usage is not None and completion.usage.total_tokens == 9


async def test_sdk_chat_stream(sdk: openai.AsyncOpenAI):
    stream = await sdk.chat.completions.create(
        model="fake", messages=HELLO, stream=True, n=2,
        stream_options={"include_usage": True})
    text: dict[int, str] = {0: "", 1: ""}
    usage = None
    async for chunk in stream:
        for choice in chunk.choices:
            text[choice.index] += choice.delta.content or ""
        usage = chunk.usage or usage
    assert text == {0: "Hello world", 1: "Hello world"}
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3


async def test_sdk_completions_and_models(sdk: openai.AsyncOpenAI):
    completion = await sdk.completions.create(model="fake", prompt="x", logprobs=1)
    assert completion.choices[0].text == "Hello world"
    assert completion.choices[0].logprobs is not None
    assert completion.choices[0].logprobs.text_offset == [0, 5]
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["fake"]


async def test_sdk_errors(sdk: openai.AsyncOpenAI, backend: FakeBackend):
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="fake", messages=HELLO,
                                          extra_body={"mystery": 1})
    assert info.value.param == "mystery"
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="nope", messages=HELLO)
    backend.raise_before = Overloaded("busy", retry_after=0.5)
    with pytest.raises(openai.RateLimitError) as rate:
        await sdk.chat.completions.create(model="fake", messages=HELLO)
    assert rate.value.response.headers["retry-after"] == "1"


async def test_closing_the_stream_cancels_the_backend(live: str, backend: FakeBackend):
    backend.forever, backend.delay = True, 0.01
    payload = {"model": "fake", "messages": HELLO, "stream": True}
    url = f"{live}/v1/chat/completions"
    async with httpx.AsyncClient() as client, client.stream("POST", url, json=payload) as r:
        async for line in r.aiter_lines():
            if '"Hello"' in line:
                break
    for _ in range(200):  # the server notices the closed socket promptly
        if backend.cancelled:
            break
        await asyncio.sleep(0.01)
    assert backend.cancelled


def test_serve_runs_one_uvicorn_server(monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: seen.update(
        config=self.config))
    run_module.serve(ServerConfig(host="0.0.0.0", port=9999), FakeBackend())
    config = seen["config"]
    assert (config.host, config.port, config.workers, config.access_log) == (
        "0.0.0.0", 9999, 1, False)
