"""OpenAICompatBackend against a real upstream: a second openmini (`openmini serve --model
tiny`) in a child process, over loopback HTTP. Text, streaming, n, stop, logprobs, usage,
reasoning, tools round trip, model id translation, upstream 4xx, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bench_peers import bench_common
from openmini.backends.base import Capabilities
from openmini.backends.openai_compat import OpenAICompatBackend
from openmini.errors import UnsupportedParameter, UpstreamError
from openmini.pipeline import Completion, Pipeline, collect
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Request,
    SamplingParams,
    TextDelta,
)

pytestmark = pytest.mark.model

EXPOSED = "remote-tiny"  # our id for the upstream's "tiny"
WEATHER = ToolSpec("get_weather", "Get the current weather in a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]})



@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with bench_common().openmini_server("tiny", threads=1, parallel=2) as server:
        yield server.url


@pytest_asyncio.fixture(loop_scope="function")  # the client lives in the test's loop
async def backend(upstream: str) -> AsyncIterator[OpenAICompatBackend]:
    b = OpenAICompatBackend("peer", upstream + "/v1", {EXPOSED: "tiny"}, timeout_s=120,
                            capabilities=Capabilities(max_n=2, reasoning=True,
                                                      token_hooks=False))
    yield b
    await b.close()


def chat(text: str, max_tokens: int = 8, n: int = 1, **sampling: Any) -> Request:
    return Request(model=EXPOSED, messages=(ChatMessage("user", text),), n=n,
                   sampling=SamplingParams(max_tokens=max_tokens, **sampling))


def direct(upstream: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(upstream + "/v1/chat/completions", json={"model": "tiny", **body},
                   timeout=120)
    r.raise_for_status()
    return dict(r.json())


async def test_greedy_text_streams_and_equals_the_upstreams_own_answer(
        backend: OpenAICompatBackend, upstream: str) -> None:
    events: list[Event] = [e async for e in backend.generate(
        chat("Name three colours.", temperature=0))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1  # streamed, not one block
    assert isinstance(events[-2], ChoiceFinished) and isinstance(events[-1], Done)
    theirs = direct(upstream, {"messages": [{"role": "user", "content": "Name three colours."}],
                               "max_tokens": 8, "temperature": 0})
    assert "".join(d.text for d in deltas) == theirs["choices"][0]["message"]["content"]
    usage = events[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        theirs["usage"]["prompt_tokens"], theirs["usage"]["completion_tokens"])
    assert backend.model_ids() == [EXPOSED]


async def test_a_raw_prompt_with_logprobs(backend: OpenAICompatBackend) -> None:
    req = Request(model=EXPOSED, prompt="The capital of France is",
                  sampling=SamplingParams(max_tokens=4, temperature=0, logprobs=True,
                                          top_logprobs=2))
    out = await collect(backend.generate(req))
    logprobs = out.choices[0].logprobs or []
    assert out.text and len(logprobs) == out.usage.completion_tokens == 4
    assert "".join(t.token for t in logprobs) == out.text
    assert all(len(t.top) == 2 and t.top[0].logprob >= t.top[1].logprob for t in logprobs)


async def test_chat_logprobs_and_stop(backend: OpenAICompatBackend) -> None:
    out = await collect(backend.generate(chat("Count from 1 to 9, one number per line.",
                                              max_tokens=40, temperature=0, stop=("4",),
                                              logprobs=True, top_logprobs=1)))
    choice = out.choices[0]
    assert choice.finish_reason == "stop" and choice.stop_reason == "4"
    assert "4" not in choice.text and "3" in choice.text
    assert choice.logprobs and all(len(t.top) == 1 for t in choice.logprobs)


async def test_n_choices_arrive_by_index(backend: OpenAICompatBackend) -> None:
    out = await collect(backend.generate(chat("Tell me a story.", max_tokens=6, n=2,
                                              temperature=1.0, seed=5)), n=2)
    assert all(c.text and c.finish_reason == "length" for c in out.choices)
    assert out.usage.completion_tokens == 12


async def test_usage_maps_cached_and_reasoning_tokens(backend: OpenAICompatBackend) -> None:
    req = Request(model=EXPOSED, messages=(ChatMessage("user", "Is 7 prime?"),),
                  sampling=SamplingParams(max_tokens=72, temperature=0),
                  reasoning=reasoning_spec("minimal", None))
    first = await collect(backend.generate(req))
    again = await collect(backend.generate(req))
    assert first.choices[0].reasoning  # reasoning_content -> ReasoningDelta
    assert 0 < again.usage.reasoning_tokens <= again.usage.completion_tokens
    assert again.usage.cached_tokens > 0  # the upstream's prefix cache, reported back


async def test_tools_round_trip(backend: OpenAICompatBackend) -> None:
    pipeline = Pipeline(backend)
    ask = (ChatMessage("user", "What is the weather in Oslo?"),)
    call_req = Request(model=EXPOSED, messages=ask, tools=(WEATHER,),
                       tool_choice=ToolChoice("function", "get_weather"),
                       parallel_tool_calls=False,
                       sampling=SamplingParams(max_tokens=32, temperature=0))
    out: Completion = await collect(pipeline.run(call_req))
    (call,) = out.choices[0].tool_calls  # validated against WEATHER by the tools stage
    assert call.name == "get_weather" and out.choices[0].finish_reason == "tool_calls"
    answer_req = Request(model=EXPOSED, messages=(
        *ask, ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"temperature_c": 12, "sky": "cloudy"}', tool_call_id=call.id)),
        tools=(WEATHER,), tool_choice=ToolChoice("none"),
        sampling=SamplingParams(max_tokens=16, temperature=0))
    answer = await collect(pipeline.run(answer_req))
    assert answer.text and not answer.choices[0].tool_calls


async def test_upstream_4xx_keeps_status_and_code(backend: OpenAICompatBackend) -> None:
    with pytest.raises(UpstreamError) as info:  # the upstream was started with --parallel 2
        await collect(backend.generate(chat("Hi", n=2, max_tokens=100_000)), n=2)
    error = info.value
    assert (error.kind, error.status, error.retryable) == ("client", 400, False)
    assert error.type == "invalid_request_error" and error.code == "context_length_exceeded"
    ghost = OpenAICompatBackend("peer", backend.base_url, {"ghost": "no-such-model"})
    with pytest.raises(UpstreamError) as info:
        await collect(ghost.generate(Request(model="ghost", prompt="Hi")))
    await ghost.close()
    assert (info.value.kind, info.value.status) == ("client", 404)


async def test_count_tokens_is_refused_without_a_tokenize_endpoint(
        backend: OpenAICompatBackend) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        await backend.count_tokens(chat("Hi"))
    assert info.value.param == "count_tokens"


async def test_closing_the_stream_ends_the_upstream_request(backend: OpenAICompatBackend,
                                                            upstream: str) -> None:
    stream = backend.generate(chat("Write a long essay about rivers.", max_tokens=400,
                                   ignore_eos=True))
    seen = 0
    async for event in stream:
        seen += isinstance(event, TextDelta)
        if seen == 3:
            break
    assert backend.stats().running == 1
    assert httpx.get(upstream + "/health").json()["running"] == 1
    await stream.aclose()
    assert backend.stats().running == 0
    deadline = time.monotonic() + 5
    while httpx.get(upstream + "/health").json()["running"]:
        assert time.monotonic() < deadline, "the upstream kept generating"
        await asyncio.sleep(0.05)


async def test_a_partial_answer_is_continued_upstream(upstream: str) -> None:
    """continue_final goes up as vLLM's continue_final_message (openmini's edge takes it
    too): what stream recovery sends the next deployment."""
    b = OpenAICompatBackend("peer", upstream + "/v1", {EXPOSED: "tiny"}, timeout_s=120,
                            capabilities=Capabilities(prefill=True, token_hooks=False))
    try:
        request = Request(model=EXPOSED, continue_final=True, messages=(
            ChatMessage("user", "Count from 1 to 10, separated by commas."),
            ChatMessage("assistant", "1, 2, 3, 4,")),
            sampling=SamplingParams(max_tokens=8, temperature=0))
        out = await collect(b.generate(request))
        assert out.text.startswith(" 5, 6")
    finally:
        await b.close()


async def test_continuing_is_refused_where_the_provider_cannot(
        backend: OpenAICompatBackend) -> None:
    request = Request(model=EXPOSED, continue_final=True, messages=(
        ChatMessage("user", "Count."), ChatMessage("assistant", "1,")))
    with pytest.raises(UnsupportedParameter, match="continue_final_message"):
        await collect(backend.generate(request))
