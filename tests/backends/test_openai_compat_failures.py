"""OpenAICompatBackend against a scripted upstream on loopback (failure injection): every
failure becomes an UpstreamError whose kind, status, retryable and retry_after come from the
transport or the status; invalid tool calls an upstream returns are caught by the pipeline's
server-side validation, as a local model's are."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from scripted_upstream import Reply, ScriptedUpstream, chunk, sse, usage

from openmini.backends.openai_compat import OpenAICompatBackend
from openmini.errors import UpstreamError
from openmini.pipeline import Pipeline, collect
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.tools.stage import InvalidToolCall
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Failed,
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
async def backend(upstream: ScriptedUpstream) -> AsyncIterator[OpenAICompatBackend]:
    upstream.reset()
    b = OpenAICompatBackend("scripted", upstream.base_url, {"mini": "upstream-mini"},
                            api_key="sk-test", timeout_s=0.5)
    yield b
    await b.close()


def chat(text: str = "Hi", **fields: object) -> Request:
    return Request(model="mini", messages=(ChatMessage("user", text),),
                   sampling=SamplingParams(max_tokens=16), **fields)


async def failure(backend: OpenAICompatBackend, request: Request
                  ) -> tuple[list[Event], UpstreamError]:
    seen: list[Event] = []
    with pytest.raises(UpstreamError) as info:
        async for event in backend.generate(request):
            seen.append(event)
    return seen, info.value


def text_reply(*pieces: str) -> Reply:
    return Reply(body=sse(*(chunk(content=p) for p in pieces), chunk(finish="stop"),
                          usage(3, len(pieces))))


def expect(error: UpstreamError, kind: str, status: int, retryable: bool,
           retry_after: float | None = None) -> None:
    assert (error.kind, error.status, error.retryable) == (kind, status, retryable)
    assert error.provider == "scripted"
    if retry_after is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(retry_after, abs=2)


async def test_a_plain_stream_goes_through_with_the_model_translated(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(text_reply("Hel", "lo"))
    events = [e async for e in backend.generate(chat(request_id="r-1"))]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert isinstance(events[-1], Done) and events[-1].usage.prompt_tokens == 3
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "upstream-mini" and sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["x-request-id"] == "r-1"
    upstream.script(text_reply("again"))
    _ = [e async for e in backend.generate(chat())]
    assert upstream.requests[-1].client_port == sent.client_port  # one kept-alive connection


async def test_a_connection_closed_before_any_answer_is_sent_once_more(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(0), text_reply("ok"))  # llama.cpp's server, after a stream
    events = [e async for e in backend.generate(chat())]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["ok"]
    assert len(upstream.requests) == 2
    upstream.script(Reply(0), Reply(0))  # not twice: then it is the upstream's failure
    _, error = await failure(backend, chat())
    expect(error, "disconnect", 502, True)
    assert len(upstream.requests) == 4


async def test_429_with_retry_after_seconds(backend: OpenAICompatBackend,
                                            upstream: ScriptedUpstream) -> None:
    body = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    upstream.script(Reply(429, {"Retry-After": "7"}, [json.dumps(body).encode()]))
    seen, error = await failure(backend, chat())
    assert not seen
    expect(error, "rate_limit", 429, True, 7.0)
    assert error.type == "rate_limit_error" and "slow down" in error.message


async def test_429_with_retry_after_as_an_http_date(backend: OpenAICompatBackend,
                                                    upstream: ScriptedUpstream) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    upstream.script(Reply(429, {"Retry-After": when}, [b"{}"], chunked=False))
    _, error = await failure(backend, chat())
    expect(error, "rate_limit", 429, True, 30.0)


async def test_500_is_a_retryable_server_error(backend: OpenAICompatBackend,
                                               upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(500, body=[b'{"error": {"message": "boom"}}'], chunked=False))
    _, error = await failure(backend, chat())
    expect(error, "server", 502, True)
    assert "HTTP 500" in error.message and "boom" in error.message


async def test_503_keeps_its_retry_after(backend: OpenAICompatBackend,
                                         upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(503, {"Retry-After": "2"}, [b"overloaded"]))
    _, error = await failure(backend, chat())
    expect(error, "server", 502, True, 2.0)


async def test_400_passes_the_upstream_message_param_and_code(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    body = {"error": {"message": "max_tokens is too large", "type": "invalid_request_error",
                      "param": "max_tokens", "code": "bad_value"}}
    upstream.script(Reply(400, body=[json.dumps(body).encode()], chunked=False))
    _, error = await failure(backend, chat())
    expect(error, "client", 400, False)
    assert error.type == "invalid_request_error"
    assert "max_tokens is too large" in error.message
    assert (error.param, error.code) == ("max_tokens", "bad_value")
    assert error.envelope()["error"]["type"] == "invalid_request_error"


async def test_401_is_ours_not_the_callers(backend: OpenAICompatBackend,
                                           upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(401, body=[b'{"error": {"message": "bad key"}}']))
    _, error = await failure(backend, chat())
    expect(error, "client", 502, False)


async def test_a_hang_before_the_answer_times_out(backend: OpenAICompatBackend,
                                                  upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[3.0]))  # headers, then nothing (timeout_s=0.5)
    t0 = time.monotonic()
    _, error = await failure(backend, chat())
    expect(error, "timeout", 504, True)
    assert time.monotonic() - t0 < 2.5


async def test_a_hang_mid_stream_times_out_after_events(backend: OpenAICompatBackend,
                                                        upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=[*sse(chunk(content="Hel"), done=False), 3.0]))
    seen, error = await failure(backend, chat())
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["Hel"]
    expect(error, "timeout", 504, True)


async def test_death_mid_stream_is_a_retryable_disconnect_after_events(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=sse(chunk(content="Hel"), chunk(content="lo"), done=False),
                          end=False))
    seen, error = await failure(backend, chat())
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == "Hello"
    expect(error, "disconnect", 502, True)


async def test_a_stream_that_ends_without_finish_or_done(backend: OpenAICompatBackend,
                                                         upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=sse(chunk(content="Hel"), done=False)))  # ends cleanly
    seen, error = await failure(backend, chat())
    assert len(seen) == 1
    expect(error, "protocol", 502, False)
    assert "ended early" in error.message


async def test_malformed_json_in_the_stream(backend: OpenAICompatBackend,
                                            upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=sse(chunk(content="a"), b"data: {not json\n\n")))
    seen, error = await failure(backend, chat())
    assert len(seen) == 1
    expect(error, "protocol", 502, False)
    upstream.script(Reply(body=sse({"choices": [{"index": 5, "delta": {"content": "x"}}]})))
    _, error = await failure(backend, chat())  # a choice the request did not ask for
    expect(error, "protocol", 502, False)


async def test_an_error_inside_the_stream(backend: OpenAICompatBackend,
                                          upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(body=sse(chunk(content="a"), {"error": {
        "message": "engine died", "type": "server_error", "code": "engine"}}, done=False)))
    seen, error = await failure(backend, chat())
    assert len(seen) == 1
    expect(error, "server", 502, True)
    assert "engine died" in error.message and error.code == "engine"


async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        b = OpenAICompatBackend("scripted", f"http://127.0.0.1:{port}/v1", {"mini": "m"})
        _, error = await failure(b, chat())
        await b.close()
    expect(error, "connect", 502, True)


# -- tool calls the upstream returns go through the pipeline's validation ------------------

def call_reply(*fragments: str, name: str = "get_weather") -> Reply:
    head = {"index": 0, "id": "call_up1", "type": "function",
            "function": {"name": name, "arguments": ""}}
    parts = [{"index": 0, "function": {"arguments": f}} for f in fragments]
    return Reply(body=sse(chunk(tool_calls=[head]), *(chunk(tool_calls=[p]) for p in parts),
                          chunk(finish="tool_calls"), usage(20, 9)))


def tool_request(stream: bool) -> Request:
    return Request(model="mini", messages=(ChatMessage("user", "Weather in Oslo?"),),
                   tools=(WEATHER,), tool_choice=ToolChoice("auto"), stream=stream)


async def test_a_valid_call_comes_out_as_tool_call_deltas(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(call_reply('{"city": ', '"Oslo"}'))
    events = [e async for e in Pipeline(backend).run(tool_request(stream=True))]
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "get_weather" and calls[0].id
    assert "".join(c.arguments for c in calls) == '{"city": "Oslo"}'
    assert [e.finish_reason for e in events if isinstance(e, ChoiceFinished)] == ["tool_calls"]
    sent = upstream.requests[-1].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True


async def test_arguments_that_are_not_json_fail_the_stream(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(call_reply('{"city": ', "Oslo}"))
    events = [e async for e in Pipeline(backend).run(tool_request(stream=True))]
    assert isinstance(events[-1], Failed) and isinstance(events[-1].error, InvalidToolCall)
    assert "not JSON" in events[-1].error.message


async def test_arguments_off_the_schema_are_retried_with_feedback(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(call_reply('{"town": "Oslo"}'), call_reply('{"city": "Oslo"}'))
    out = await collect(Pipeline(backend, tool_call_retries=1).run(tool_request(False)))
    (call,) = out.choices[0].tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})
    assert out.choices[0].finish_reason == "tool_calls"
    assert out.usage.prompt_tokens == 40  # both attempts counted
    feedback = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in feedback] == ["user", "assistant", "user"]
    assert "city" in feedback[-1]["content"]


async def test_arguments_off_the_schema_after_the_retries_are_an_error(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(call_reply('{"town": "Oslo"}'), call_reply('{"town": "Bergen"}'))
    with pytest.raises(InvalidToolCall, match="'city' is a required property"):
        await collect(Pipeline(backend, tool_call_retries=1).run(tool_request(False)))


async def test_a_call_to_an_unknown_function_is_caught(
        backend: OpenAICompatBackend, upstream: ScriptedUpstream) -> None:
    upstream.script(call_reply('{"city": "Oslo"}', name="launch_rockets"))
    events = [e async for e in Pipeline(backend).run(tool_request(stream=True))]
    assert isinstance(events[-1], Failed) and "unknown function" in str(events[-1].error)
