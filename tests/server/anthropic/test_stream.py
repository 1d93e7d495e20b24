"""Streaming on /v1/messages: Anthropic's event sequence, the SDK's own stream helpers over
it, errors after the start as `event: error`, a client disconnect cancelling the backend."""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest

from openmini.errors import EngineError
from openmini.server.anthropic.responses import signature

from ..test_disconnect import call
from .conftest import HELLO, MESSAGES, CountingBackend, sse

STREAM = {**HELLO, "stream": True}
WEATHER = {"name": "get_weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


async def test_text_event_sequence(client, backend: CountingBackend) -> None:
    r = await client.post(MESSAGES, json=STREAM)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    assert [name for name, _ in events] == [
        "message_start", "ping", "content_block_start", "content_block_delta",
        "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["id"] == backend.requests[0].request_id and start["id"].startswith("msg_")
    assert start["content"] == [] and start["model"] == "fake" and start["role"] == "assistant"
    assert events[2][1] == {"type": "content_block_start", "index": 0,
                            "content_block": {"type": "text", "text": ""}}
    assert [e["delta"] for _, e in events[3:5]] == [{"type": "text_delta", "text": "Hello"},
                                                    {"type": "text_delta", "text": " world"}]
    assert events[5][1] == {"type": "content_block_stop", "index": 0}
    assert events[6][1] == {"type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"input_tokens": 4, "output_tokens": 2,
                                      "cache_read_input_tokens": 3}}
    assert backend.requests[0].stream


async def test_thinking_block_ends_with_its_signature(client, backend) -> None:
    backend.reasoning = ("Let me ", "think.")
    backend.finish_reason, backend.stop_reason = "stop", "END"
    r = await client.post(MESSAGES, json={**STREAM, "stop_sequences": ["END"],
                                          "thinking": {"type": "enabled", "budget_tokens": 16}})
    events = [e for _, e in sse(r.text)]
    blocks = [e for e in events if e["type"].startswith("content_block")]
    assert blocks[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [b["delta"] for b in blocks[1:4]] == [
        {"type": "thinking_delta", "thinking": "Let me "},
        {"type": "thinking_delta", "thinking": "think."},
        {"type": "signature_delta", "signature": signature("Let me think.")}]
    assert blocks[4] == {"type": "content_block_stop", "index": 0}
    assert blocks[5]["index"] == 1 and blocks[5]["content_block"]["type"] == "text"
    assert events[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


async def test_tool_use_streams_input_json(client, backend) -> None:
    backend.pieces = ("Sure. ", CALL)
    r = await client.post(MESSAGES, json={**STREAM, "tools": [WEATHER]})
    events = [e for _, e in sse(r.text)]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"]
    assert starts[1]["id"].startswith("toolu_") and starts[1]["name"] == "get_weather"
    assert starts[1]["input"] == {}
    fragments = [e["delta"]["partial_json"] for e in events
                 if e["type"] == "content_block_delta" and e["index"] == 1]
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


async def test_sdk_stream_helper_matches_the_whole_message(sdk: anthropic.AsyncAnthropic,
                                                          backend) -> None:
    backend.reasoning, backend.pieces = ("Hmm.",), ("Sure. ", CALL)
    kwargs = dict(model="fake", max_tokens=64, tools=[WEATHER],
                  thinking={"type": "enabled", "budget_tokens": 16},
                  messages=[{"role": "user", "content": "Weather in Paris?"}])
    whole = await sdk.messages.create(**kwargs)  # type: ignore[call-overload]
    async with sdk.messages.stream(**kwargs) as stream:  # type: ignore[arg-type]
        texts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "Sure."
    assert final.stop_reason == whole.stop_reason == "tool_use"
    assert [b.type for b in final.content] == [b.type for b in whole.content] == [
        "thinking", "text", "tool_use"]
    assert final.content[0].signature == whole.content[0].signature  # type: ignore[union-attr]
    assert final.content[2].input == whole.content[2].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.usage.output_tokens == whole.usage.output_tokens == 2
    assert final.usage.input_tokens == whole.usage.input_tokens == 4


async def test_sdk_raw_stream_events(sdk: anthropic.AsyncAnthropic) -> None:
    stream = await sdk.messages.create(model="fake", max_tokens=8, stream=True,
                                       messages=[{"role": "user", "content": "Hi"}])
    kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]


async def test_error_after_the_start_is_an_error_event(client, sdk, backend) -> None:
    backend.fail_after_first = EngineError("engine fell over")
    events = sse((await client.post(MESSAGES, json=STREAM)).text)
    assert [name for name, _ in events][-1] == "error"
    assert events[-1][1] == {"type": "error", "error": {"type": "api_error",
                                                        "message": "engine fell over"}}
    assert "message_stop" not in [name for name, _ in events]
    with pytest.raises(anthropic.APIStatusError, match="engine fell over"):
        async with sdk.messages.stream(model="fake", max_tokens=8,
                                       messages=[{"role": "user", "content": "Hi"}]) as stream:
            await stream.get_final_message()


@pytest.mark.parametrize("stream", [True, False])
async def test_disconnect_cancels_the_backend(app, backend, stream: bool) -> None:
    backend.forever, backend.delay = True, 0.01
    leave = asyncio.Event()

    async def leave_after_some_output() -> None:
        while not backend.started.is_set():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        leave.set()

    watcher = asyncio.create_task(leave_after_some_output())
    sent = await call(app, MESSAGES, {**HELLO, "stream": stream}, leave)
    await watcher
    assert backend.cancelled
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b"message_stop" not in body
    if stream:
        assert sent[0]["status"] == 200 and b"text_delta" in body
