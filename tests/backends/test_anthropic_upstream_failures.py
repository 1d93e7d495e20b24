"""AnthropicBackend against a scripted upstream on loopback (Anthropic's SSE, failure
injection): every failure becomes an UpstreamError whose kind, status, retryable and
retry_after come from the transport or the status (a 529 is a server error, an in-stream
`event: error` too); the events an answer's blocks become; tool calls through the
pipeline's validation."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from scripted_anthropic import (
    answer,
    error_body,
    finish,
    frame,
    message_start,
    root,
    text_block,
    thinking_block,
    tool_block,
)
from scripted_upstream import Reply, ScriptedUpstream

from openmini.backends.anthropic import AnthropicBackend
from openmini.backends.base import Capabilities
from openmini.errors import UpstreamError
from openmini.pipeline import Pipeline, collect
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.tools.stage import InvalidToolCall
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Failed,
    ReasoningDelta,
    Request,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
)

WEATHER = ToolSpec("get_weather", "The weather in a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"], "additionalProperties": False})


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest_asyncio.fixture(loop_scope="function")  # the client lives in the test's loop
async def backend(upstream: ScriptedUpstream) -> AsyncIterator[AnthropicBackend]:
    upstream.reset()
    b = AnthropicBackend("scripted", root(upstream), {"mini": "claude-up"},
                         api_key="sk-ant-test", timeout_s=0.5,
                         capabilities=Capabilities(reasoning=True, prefill=True,
                                                   context_length=8192))
    yield b
    await b.close()


def chat(text: str = "Hi", **fields: Any) -> Request:
    fields.setdefault("sampling", SamplingParams(max_tokens=16))
    return Request(model="mini", messages=(ChatMessage("user", text),), **fields)


async def failure(backend: AnthropicBackend, request: Request
                  ) -> tuple[list[Event], UpstreamError]:
    seen: list[Event] = []
    with pytest.raises(UpstreamError) as info:
        async for event in backend.generate(request):
            seen.append(event)
    return seen, info.value


def expect(error: UpstreamError, kind: str, status: int, retryable: bool,
           retry_after: float | None = None) -> None:
    assert (error.kind, error.status, error.retryable) == (kind, status, retryable)
    assert error.provider == "scripted"
    if retry_after is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(retry_after, abs=2)


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


async def test_a_plain_stream_goes_through_with_the_model_translated(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(text_block(0, "Hel", "lo"), output=2, input_tokens=3))
    events = [e async for e in backend.generate(chat(request_id="r-1"))]
    assert texts(events) == ["Hel", "lo"]
    assert events[-2] == ChoiceFinished(0, "stop", None)
    assert isinstance(events[-1], Done)
    assert (events[-1].usage.prompt_tokens, events[-1].usage.completion_tokens) == (3, 2)
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body == {"model": "claude-up", "max_tokens": 16, "stream": True,
                         "messages": [{"role": "user", "content": "Hi"}]}
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    upstream.script(answer(text_block(0, "again")))
    _ = [e async for e in backend.generate(chat())]
    assert upstream.requests[-1].client_port == sent.client_port  # one kept-alive connection


async def test_stop_sequence_and_cache_usage(backend: AnthropicBackend,
                                             upstream: ScriptedUpstream) -> None:
    frames: list[bytes | float] = [message_start(4, cache_read_input_tokens=10,
                                                 cache_creation_input_tokens=2),
                                   *text_block(0, "1, 2, 3, "),
                                   *finish("stop_sequence", 5, "4")]
    upstream.script(Reply(body=frames))
    out = await collect(backend.generate(chat(sampling=SamplingParams(max_tokens=9,
                                                                      stop=("4",)))))
    choice = out.choices[0]
    assert (choice.text, choice.finish_reason, choice.stop_reason) == ("1, 2, 3, ", "stop", "4")
    assert (out.usage.prompt_tokens, out.usage.cached_tokens, out.usage.completion_tokens) == (
        16, 10, 5)
    assert upstream.requests[-1].body["stop_sequences"] == ["4"]


@pytest.mark.parametrize(("reason", "finish"), [("max_tokens", "length"),
                                                ("refusal", "content_filter"),
                                                ("model_context_window_exceeded", "length")])
async def test_stop_reasons(backend: AnthropicBackend, upstream: ScriptedUpstream,
                            reason: str, finish: str) -> None:
    upstream.script(answer(text_block(0, "x"), stop_reason=reason))
    out = await collect(backend.generate(chat()))
    assert out.choices[0].finish_reason == finish


async def test_thinking_blocks_are_reasoning(backend: AnthropicBackend,
                                             upstream: ScriptedUpstream) -> None:
    upstream.script(answer(thinking_block(0, "Seven has ", "no divisors."),
                           text_block(1, "Yes.")))
    request = chat(reasoning=reasoning_spec(None, 1024),
                   sampling=SamplingParams(max_tokens=2048))
    events = [e async for e in backend.generate(request)]
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Seven has ",
                                                                          "no divisors."]
    assert texts(events) == ["Yes."]
    assert upstream.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


async def test_429_with_retry_after(backend: AnthropicBackend,
                                    upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(429, {"Retry-After": "7"},
                          [error_body("rate_limit_error", "slow down")]))
    seen, error = await failure(backend, chat())
    assert not seen
    expect(error, "rate_limit", 429, True, 7.0)
    assert error.type == "rate_limit_error" and "slow down" in error.message


async def test_529_overloaded_is_a_retryable_server_error(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(529, body=[error_body("overloaded_error", "Overloaded")],
                          chunked=False))
    _, error = await failure(backend, chat())
    expect(error, "server", 502, True)
    assert "HTTP 529" in error.message and "Overloaded" in error.message


async def test_400_passes_the_upstream_message(backend: AnthropicBackend,
                                               upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(400, body=[error_body(
        "invalid_request_error", "max_tokens: 100000 > 64000, the maximum")], chunked=False))
    _, error = await failure(backend, chat())
    expect(error, "client", 400, False)
    assert error.type == "invalid_request_error"
    assert "max_tokens: 100000 > 64000" in error.message


async def test_401_is_ours_not_the_callers(backend: AnthropicBackend,
                                           upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(401, body=[error_body("authentication_error", "invalid x-api-key")]))
    _, error = await failure(backend, chat())
    expect(error, "client", 502, False)


async def test_an_error_event_inside_the_stream(backend: AnthropicBackend,
                                                upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[message_start(), *text_block(0, "a"),
                                frame("error", error={"type": "overloaded_error",
                                                      "message": "Overloaded"})]))
    seen, error = await failure(backend, chat())
    assert texts(seen) == ["a"]
    expect(error, "server", 502, True)
    assert "Overloaded" in error.message and error.code == "overloaded_error"


async def test_death_mid_stream_after_events(backend: AnthropicBackend,
                                             upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[message_start(), *text_block(0, "Hel", "lo")[:3]], end=False))
    seen, error = await failure(backend, chat())
    assert "".join(texts(seen)) == "Hello"
    expect(error, "disconnect", 502, True)


async def test_a_stream_that_ends_without_message_stop(backend: AnthropicBackend,
                                                       upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[message_start(), *text_block(0, "Hel")]))  # ends cleanly
    seen, error = await failure(backend, chat())
    assert texts(seen) == ["Hel"]
    expect(error, "protocol", 502, False)
    assert "ended early" in error.message


async def test_a_hang_mid_stream_times_out(backend: AnthropicBackend,
                                           upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[message_start(), *text_block(0, "Hel")[:2], 3.0]))
    t0 = time.monotonic()
    seen, error = await failure(backend, chat())
    assert texts(seen) == ["Hel"]
    expect(error, "timeout", 504, True)
    assert time.monotonic() - t0 < 2.5


async def test_malformed_json_and_events(backend: AnthropicBackend,
                                         upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[message_start(), *text_block(0, "a")[:2],
                                b"event: content_block_delta\ndata: {not json\n\n"]))
    seen, error = await failure(backend, chat())
    assert texts(seen) == ["a"]
    expect(error, "protocol", 502, False)
    assert "malformed JSON" in error.message
    upstream.script(Reply(body=[message_start(), frame("content_block_delta", index=0,
                                                       delta={"type": "text_delta"})]))
    _, error = await failure(backend, chat())  # a delta for a block never started
    expect(error, "protocol", 502, False)
    upstream.script(answer(text_block(0, "x"), stop_reason="pause_turn"))
    _, error = await failure(backend, chat())
    expect(error, "protocol", 502, False)
    assert "pause_turn" in error.message


async def test_a_prefill_holds_back_its_trailing_whitespace(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(text_block(0, " ", " 4, 5")))
    request = Request(model="mini", continue_final=True, messages=(
        ChatMessage("user", "Count."), ChatMessage("assistant", "1, 2, 3, ")))
    out = await collect(backend.generate(request))
    assert out.text == " 4, 5"  # one space held back, one dropped: the model's second kept
    assert upstream.requests[-1].body["messages"][-1] == {"role": "assistant",
                                                          "content": "1, 2, 3,"}
    assert upstream.requests[-1].body["max_tokens"] == 4096  # none asked: the default


async def test_count_tokens(backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[b'{"input_tokens": 42}'], chunked=False))
    assert await backend.count_tokens(chat(tools=(WEATHER,))) == 42
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.body == {"model": "claude-up", "messages": [{"role": "user", "content": "Hi"}],
                         "tools": [{"name": "get_weather", "description": "The weather in a "
                                    "city.", "input_schema": WEATHER.parameters}],
                         "tool_choice": {"type": "auto"}}
    upstream.script(Reply(body=[b'{"tokens": 42}'], chunked=False))
    with pytest.raises(UpstreamError) as info:
        await backend.count_tokens(chat())
    expect(info.value, "protocol", 502, False)


# -- tool calls the upstream returns go through the pipeline's validation ------------------

def tool_request(stream: bool, choice: str = "auto") -> Request:
    return Request(model="mini", messages=(ChatMessage("user", "Weather in Oslo?"),),
                   tools=(WEATHER,), tool_choice=ToolChoice(choice),  # type: ignore[arg-type]
                   stream=stream, sampling=SamplingParams(max_tokens=64))


async def test_a_valid_call_comes_out_as_tool_call_deltas(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(text_block(0, "Let me look."),
                           tool_block(1, "", '{"city": ', '"Oslo"}'), stop_reason="tool_use"))
    events = [e async for e in Pipeline(backend).run(tool_request(stream=True))]
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "get_weather" and calls[0].id
    assert "".join(c.arguments for c in calls) == '{"city": "Oslo"}'
    assert "".join(texts(events)).strip() == "Let me look."
    assert [e.finish_reason for e in events if isinstance(e, ChoiceFinished)] == ["tool_calls"]
    sent = upstream.requests[-1].body
    assert sent["tools"][0]["input_schema"] == WEATHER.parameters
    assert sent["tool_choice"] == {"type": "auto"}


async def test_a_call_without_the_tools_stage_keeps_its_id(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(tool_block(0, '{"city": "Oslo"}'), stop_reason="tool_use"))
    events = [e async for e in backend.generate(tool_request(False, "none"))]
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert (calls[0].id, calls[0].name) == ("toolu_up1", "get_weather")
    assert "".join(c.arguments for c in calls) == '{"city": "Oslo"}'
    assert [e.finish_reason for e in events if isinstance(e, ChoiceFinished)] == ["tool_calls"]
    assert upstream.requests[-1].body["tool_choice"] == {"type": "none"}


async def test_arguments_off_the_schema_are_retried_with_feedback(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(tool_block(0, '{"town": "Oslo"}'), stop_reason="tool_use"),
                    answer(tool_block(0, '{"city": "Oslo"}'), stop_reason="tool_use"))
    out = await collect(Pipeline(backend, tool_call_retries=1).run(tool_request(False)))
    (call,) = out.choices[0].tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})
    assert out.choices[0].finish_reason == "tool_calls"
    feedback = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in feedback] == ["user", "assistant", "user"]
    assert "city" in feedback[-1]["content"]


async def test_arguments_that_are_not_json_fail_the_stream(
        backend: AnthropicBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(answer(tool_block(0, '{"city": ', "Oslo}"), stop_reason="tool_use"))
    events = [e async for e in Pipeline(backend).run(tool_request(stream=True))]
    assert isinstance(events[-1], Failed) and isinstance(events[-1].error, InvalidToolCall)
