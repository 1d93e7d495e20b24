"""OpenAICompatBackend's conversions, no server: the request body it sends (openai_wire.py),
what it refuses by name before connecting, the chunks it reads (openai_stream.py), SSE
parsing and the error mapping helpers (upstream_*.py)."""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from openmini.backends.base import Capabilities
from openmini.backends.openai_compat import OpenAICompatBackend
from openmini.backends.openai_stream import ChunkReader
from openmini.backends.openai_wire import request_json
from openmini.backends.upstream_errors import error_detail, retry_after_seconds
from openmini.backends.upstream_images import encode_images
from openmini.backends.upstream_sse import SSEEvent, sse_events
from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest, ModelNotFound, UnsupportedParameter, UpstreamError
from openmini.hooks.builtin import StopRegex
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.calls import ToolCall
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    ImagePart,
    ReasoningDelta,
    Request,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
)

HI = (ChatMessage("user", "Hi"),)


def body(request: Request, enforces: bool = False, images: Any = None) -> dict[str, Any]:
    return request_json(request, "up-model", images or {}, enforces)


def test_sampling_defaults_are_left_to_the_api_and_the_rest_passed_on() -> None:
    plain = body(Request(model="m", messages=HI))
    assert plain == {"model": "up-model", "stream": True,
                     "stream_options": {"include_usage": True},
                     "messages": [{"role": "user", "content": "Hi"}], "temperature": 1.0}
    s = SamplingParams(max_tokens=9, temperature=0.2, top_p=0.9, top_k=40, min_p=0.05,
                       seed=0, presence_penalty=0.5, frequency_penalty=-0.5, stop=("x",),
                       logit_bias=((42, -100.0),), logprobs=True, top_logprobs=3,
                       ignore_eos=True)
    full = body(Request(model="m", messages=HI, sampling=s, n=2))
    assert {k: v for k, v in full.items() if k not in plain} == {
        "max_tokens": 9, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 0,
        "presence_penalty": 0.5, "frequency_penalty": -0.5, "stop": ["x"],
        "logit_bias": {"42": -100.0}, "logprobs": True, "top_logprobs": 3,
        "ignore_eos": True, "n": 2}
    legacy = body(Request(model="m", prompt="Once", sampling=replace(s, top_logprobs=0)))
    assert legacy["prompt"] == "Once" and legacy["logprobs"] == 0


def test_messages_tool_calls_results_and_developer_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    msgs = (ChatMessage("developer", "Be brief."), ChatMessage("user", "Oslo?", name="ann"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", "12 C", tool_call_id="call_1"))
    tools = (ToolSpec("get_weather", "Weather.", {"type": "object"}, strict=True),)
    out = body(Request(model="m", messages=msgs, tools=tools,
                       tool_choice=ToolChoice("function", "get_weather"),
                       parallel_tool_calls=False))
    assert out["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Oslo?", "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "content": "12 C", "tool_call_id": "call_1"}]
    assert out["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather.", "parameters": {"type": "object"},
        "strict": True}}]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["parallel_tool_calls"] is False


async def test_images_go_as_data_urls_in_place() -> None:
    photo = Image.new("RGB", (8, 6), "red")
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    part = ImagePart(data=b"", index=0)
    # the edge joined text parts "A.", "and", "B?" with images after the first and second
    images = (replace(part, at=2, index=1, pixels=photo),
              replace(part, at=6, index=3, pixels=clear, detail="low"),
              replace(part, at=9, index=5, pixels=photo))
    msg = ChatMessage("user", "A.\nand\nB?", images=images)
    encoded = await encode_images((msg,))
    content = body(Request(model="m", messages=(msg,)), images=encoded)["messages"][0]["content"]
    kinds = [p["type"] if p["type"] == "image_url" else p["text"] for p in content]
    assert kinds == ["A.", "image_url", "and", "image_url", "B?", "image_url"]
    first, second = content[1]["image_url"], content[3]["image_url"]
    assert first["url"].startswith("data:image/jpeg;base64,") and first["detail"] == "auto"
    assert second["url"].startswith("data:image/png;base64,") and second["detail"] == "low"
    decoded = Image.open(io.BytesIO(base64.b64decode(first["url"].split(",", 1)[1])))
    assert decoded.size == (8, 6)
    with pytest.raises(InvalidRequest, match=r"messages\[0\].content\[0\].image_url"):
        await encode_images((ChatMessage("user", "x", images=(part,)),))


def test_response_format_only_where_the_upstream_enforces_it() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    req = Request(model="m", messages=HI,
                  constraint=Constraint.json_schema(schema, "response_format.json_schema.schema"))
    assert body(req, enforces=True)["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "response", "schema": schema,
                                               "strict": True}}
    obj = replace(req, constraint=Constraint.json_object("response_format"))
    assert body(obj, enforces=True)["response_format"] == {"type": "json_object"}
    effort = replace(req, constraint=None, reasoning=reasoning_spec("low", None))
    assert body(effort)["reasoning_effort"] == "low"


@pytest.fixture
def unreachable() -> Iterator[str]:
    with socket.socket() as s:  # bound, never listening: any connection would be refused
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest_asyncio.fixture(loop_scope="function")  # the client lives in the test's loop
async def strict(unreachable: str) -> AsyncIterator[OpenAICompatBackend]:
    b = OpenAICompatBackend("p", unreachable, {"m": "up"}, enforces_json_schema=True,
                            capabilities=Capabilities(max_n=2, reasoning=True,
                                                      token_hooks=False))
    yield b
    await b.close()


REFUSED = [
    ("bad_words", {"sampling": SamplingParams(bad_words=("darn",))}),
    ("repetition_penalty", {"sampling": SamplingParams(repetition_penalty=1.1)}),
    ("priority", {"priority": 3}),
    ("hooks", {"hooks": (StopRegex([r"\d"]),)}),
    ("structured_outputs.regex", {"constraint": Constraint.regex("a+", "structured_outputs"
                                                                      ".regex")}),
    ("thinking_budget", {"reasoning": reasoning_spec(None, 500)}),
]


@pytest.mark.parametrize(("param", "fields"), REFUSED, ids=[p for p, _ in REFUSED])
async def test_what_an_upstream_cannot_honour_is_refused_before_connecting(
        strict: OpenAICompatBackend, param: str, fields: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        _ = [e async for e in strict.generate(Request(model="m", messages=HI, **fields))]
    assert info.value.param == param


async def test_constraints_reasoning_n_and_models_refused_by_declaration(
        unreachable: str) -> None:
    b = OpenAICompatBackend("p", unreachable, {"m": "up"})  # the default capabilities
    cases: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (UnsupportedParameter, "response_format",
         {"constraint": Constraint.json_object("response_format")}),
        (UnsupportedParameter, "reasoning_effort", {"reasoning": reasoning_spec("low", None)}),
        (InvalidRequest, "n", {"n": 2}),
        (ModelNotFound, "model", {"model": "other"})]
    for error, param, fields in cases:
        with pytest.raises(error) as info:
            _ = [e async for e in b.generate(Request(**{"model": "m", "messages": HI,
                                                        **fields}))]
        assert getattr(info.value, "param", None) == param
    with pytest.raises(UpstreamError) as refused:  # a plain request does try to connect
        _ = [e async for e in b.generate(Request(model="m", messages=HI))]
    assert refused.value.kind == "connect"
    await b.close()


async def test_sse_fields_comments_and_multiline_data() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": keep-alive", "", "event: message_start", "data: {\"a\":", "data: 1}",
                     "id: 7", "", "data:[DONE]", "", "data: cut off"]:
            yield line

    events = [e async for e in sse_events(lines())]
    assert events == [SSEEvent('{"a":\n1}', "message_start", "7"), SSEEvent("[DONE]", id="7")]


def test_retry_after_and_error_bodies() -> None:
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert error_detail(b'{"object": "error", "message": "bad", "type": "BadRequestError", '
                        b'"param": "n", "code": 400}') == ("bad", "n", "400")
    assert error_detail(b'{"error": "nope"}') == ("nope", None, None)
    assert error_detail(b"<html>oops</html>") == ("<html>oops</html>", None, None)


def test_chunks_reasoning_legacy_logprobs_and_calls_without_the_tools_stage() -> None:
    chat = ChunkReader("p", 1, chat=True, call_text=False)
    events = chat.feed({"choices": [{"index": 0, "delta": {"reasoning": "hmm"}}]})
    events += chat.feed({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c9", "function": {"name": "f", "arguments": ""}}]}}]})
    events += chat.feed({"choices": [{"index": 0, "delta": {},
                                      "finish_reason": "function_call"}]})
    assert events == [ReasoningDelta(0, "hmm"), ToolCallDelta(0, 0, "", id="c9", name="f"),
                      ToolCallDelta(0, 0, "{}"), ChoiceFinished(0, "tool_calls")]
    legacy = ChunkReader("p", 1, chat=False, call_text=False)
    (delta,) = legacy.feed({"choices": [{"index": 0, "text": " Paris", "logprobs": {
        "tokens": [" Paris"], "token_logprobs": [-0.25], "text_offset": [0],
        "top_logprobs": [{" Paris": -0.25, " the": -2.5}]}}]})
    assert isinstance(delta, TextDelta) and delta.text == " Paris"
    assert delta.logprobs is not None
    assert [(t.token, t.logprob) for t in delta.logprobs[0].top] == [(" Paris", -0.25),
                                                                      (" the", -2.5)]
    with pytest.raises(UpstreamError) as info:
        legacy.feed({"choices": [{"index": 0, "text": "", "finish_reason": "exploded"}]})
    assert info.value.kind == "protocol"
