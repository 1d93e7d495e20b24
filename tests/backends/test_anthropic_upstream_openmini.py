"""AnthropicBackend against a real upstream: a second openmini (`openmini serve --model tiny`)
in a child process, over loopback HTTP through its own Anthropic edge (`/v1/messages`). Text
equal to that server's own greedy chat completion, streaming, stop sequences, usage and
count_tokens, a tools round trip through the pipeline, thinking, an image, prefill, model
ids, an upstream 4xx, cancellation."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from PIL import Image, ImageDraw
from test_openai_compat_openmini import bench_common

from openmini.backends.anthropic import AnthropicBackend
from openmini.backends.base import Capabilities
from openmini.config import ServerConfig
from openmini.errors import ModelNotFound, UpstreamError
from openmini.pipeline import Completion, Pipeline, collect
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    ImagePart,
    ReasoningDelta,
    Request,
    SamplingParams,
    TextDelta,
)
from openmini.vision.policy import from_config
from openmini.vision.stage import Intake

pytestmark = pytest.mark.model

EXPOSED = "remote-tiny"  # our id for the upstream's "tiny"
WEATHER = ToolSpec("get_weather", "Get the current weather in a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]})
COUNT = "Count from 1 to 9, one number per line."


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with bench_common().openmini_server("tiny", threads=1, parallel=2) as server:
        yield server.url


@pytest_asyncio.fixture(loop_scope="function")  # the client lives in the test's loop
async def backend(upstream: str) -> AsyncIterator[AnthropicBackend]:
    b = AnthropicBackend("peer", upstream, {EXPOSED: "tiny"}, timeout_s=120,
                         capabilities=Capabilities(reasoning=True, prefill=True,
                                                   vision="native", context_length=8192))
    yield b
    await b.close()


def chat(text: str, max_tokens: int | None = 8, **sampling: Any) -> Request:
    return Request(model=EXPOSED, messages=(ChatMessage("user", text),),
                   sampling=SamplingParams(max_tokens=max_tokens, **sampling))


def direct(upstream: str, body: dict[str, Any]) -> dict[str, Any]:
    """The upstream's own answer on its OpenAI edge."""
    r = httpx.post(upstream + "/v1/chat/completions", json={"model": "tiny", **body},
                   timeout=120)
    r.raise_for_status()
    return dict(r.json())


async def test_greedy_text_streams_and_equals_the_upstreams_own_answer(
        backend: AnthropicBackend, upstream: str) -> None:
    events: list[Event] = [e async for e in backend.generate(
        chat("Name three colours.", max_tokens=12, temperature=0))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1  # streamed, not one block
    assert isinstance(events[-2], ChoiceFinished) and isinstance(events[-1], Done)
    theirs = direct(upstream, {"messages": [{"role": "user", "content": "Name three colours."}],
                               "max_tokens": 12, "temperature": 0})
    assert "".join(d.text for d in deltas) == theirs["choices"][0]["message"]["content"]
    usage = events[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        theirs["usage"]["prompt_tokens"], theirs["usage"]["completion_tokens"])
    assert events[-2].finish_reason == theirs["choices"][0]["finish_reason"]
    assert backend.model_ids() == [EXPOSED]


async def test_stop_sequence_and_count_tokens_equal_to_usage(
        backend: AnthropicBackend) -> None:
    request = Request(model=EXPOSED, messages=(ChatMessage("system", "You count."),
                                               ChatMessage("user", COUNT)),
                      sampling=SamplingParams(max_tokens=40, temperature=0, stop=("4",)))
    out = await collect(backend.generate(request))
    choice = out.choices[0]
    assert choice.finish_reason == "stop" and choice.stop_reason == "4"
    assert "4" not in choice.text and "3" in choice.text
    assert await backend.count_tokens(request) == out.usage.prompt_tokens > 0
    again = await collect(backend.generate(request))  # the upstream's prefix cache
    assert again.usage.cached_tokens > 0
    assert again.usage.prompt_tokens == out.usage.prompt_tokens


async def test_tools_round_trip(backend: AnthropicBackend) -> None:
    pipeline = Pipeline(backend)
    ask = (ChatMessage("user", "What is the weather in Oslo?"),)
    call_req = Request(model=EXPOSED, messages=ask, tools=(WEATHER,),
                       tool_choice=ToolChoice("function", "get_weather"),
                       parallel_tool_calls=False,
                       sampling=SamplingParams(max_tokens=32, temperature=0))
    out: Completion = await collect(pipeline.run(call_req))
    assert await backend.count_tokens(call_req) == out.usage.prompt_tokens
    (call,) = out.choices[0].tool_calls  # validated against WEATHER by the tools stage
    assert call.name == "get_weather" and out.choices[0].finish_reason == "tool_calls"
    answer_req = Request(model=EXPOSED, messages=(
        *ask, ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"temperature_c": 12, "sky": "cloudy"}', tool_call_id=call.id)),
        tools=(WEATHER,), tool_choice=ToolChoice("none"),
        sampling=SamplingParams(max_tokens=16, temperature=0))
    answer = await collect(pipeline.run(answer_req))
    assert answer.text and not answer.choices[0].tool_calls


async def test_thinking_blocks_become_reasoning(backend: AnthropicBackend) -> None:
    request = Request(model=EXPOSED, messages=(ChatMessage("user", "Is 7 prime?"),),
                      sampling=SamplingParams(max_tokens=72, temperature=0),
                      reasoning=reasoning_spec(None, 64))
    events = [e async for e in backend.generate(request)]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta | Done))
    assert reasoning and all(not isinstance(e, ReasoningDelta) for e in events[first_text:])


def picture() -> bytes:
    im = Image.new("RGB", (320, 96), "white")
    ImageDraw.Draw(im).text((16, 30), "INVOICE 4711 PAID", fill="black", font_size=28)
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


async def test_an_image_reaches_the_upstream_and_is_described_there(
        backend: AnthropicBackend) -> None:
    pipeline = Pipeline(backend, intake=Intake(*from_config(ServerConfig())))
    question = "What does the image say?"
    with_image = Request(model=EXPOSED, messages=(ChatMessage(
        "user", question, images=(ImagePart(data=picture(), at=0),)),),
        sampling=SamplingParams(max_tokens=8, temperature=0))
    out = await collect(pipeline.run(with_image))
    plain = await collect(pipeline.run(chat(question, temperature=0)))
    # the upstream (tiny: no projector) put its perception text in the image's place
    assert out.usage.prompt_tokens > plain.usage.prompt_tokens + 10
    assert await pipeline.count_tokens(with_image) == out.usage.prompt_tokens


async def test_a_prefill_is_continued(backend: AnthropicBackend, upstream: str) -> None:
    theirs = direct(upstream, {"messages": [{"role": "user", "content": COUNT},
                                            {"role": "assistant", "content": "1\n2\n3"}],
                               "continue_final_message": True,
                               "add_generation_prompt": False,
                               "max_tokens": 6, "temperature": 0})
    text = theirs["choices"][0]["message"]["content"]
    assert text.startswith("\n")
    request = Request(model=EXPOSED, continue_final=True, messages=(
        ChatMessage("user", COUNT), ChatMessage("assistant", "1\n2\n3\n")),
        sampling=SamplingParams(max_tokens=6, temperature=0))
    out = await collect(backend.generate(request))  # "3" was sent, its newline held back
    assert out.text == text[1:]


async def test_model_ids_and_upstream_4xx(backend: AnthropicBackend) -> None:
    with pytest.raises(ModelNotFound):
        await collect(backend.generate(Request(model="tiny", messages=(
            ChatMessage("user", "Hi"),))))
    with pytest.raises(UpstreamError) as info:  # past the upstream's context
        await collect(backend.generate(chat("Hi", max_tokens=100_000)))
    assert (info.value.kind, info.value.status, info.value.retryable) == ("client", 400, False)
    ghost = AnthropicBackend("peer", backend.base_url, {"ghost": "no-such-model"})
    with pytest.raises(UpstreamError) as info:
        await collect(ghost.generate(Request(model="ghost", messages=(
            ChatMessage("user", "Hi"),))))
    await ghost.close()
    assert (info.value.kind, info.value.status) == ("client", 404)


async def test_closing_the_stream_ends_the_upstream_request(backend: AnthropicBackend,
                                                            upstream: str) -> None:
    stream = backend.generate(chat("Write a long essay about rivers.", max_tokens=None))
    seen = 0
    async for event in stream:
        seen += isinstance(event, TextDelta)
        if seen == 3:
            break
    assert backend.stats().running == 1
    assert httpx.get(upstream + "/health").json()["running"] == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert backend.stats().running == 0
    deadline = time.monotonic() + 5
    while httpx.get(upstream + "/health").json()["running"]:
        assert time.monotonic() < deadline, "the upstream kept generating"
        await asyncio.sleep(0.05)


async def test_health_is_the_upstreams_model_list(upstream: str) -> None:
    from openmini.backends.anthropic import AnthropicBackend

    alive = AnthropicBackend("peer", upstream, {"x": "tiny"})
    dead = AnthropicBackend("gone", "http://127.0.0.1:9", {"x": "tiny"})
    try:
        assert await alive.health() and not await dead.health()
    finally:
        await alive.close()
        await dead.close()
