from __future__ import annotations

import pytest

from .conftest import sse_events

CHAT = "/v1/chat/completions"
HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


async def test_chat_body_shape(client, backend):
    r = await client.post(CHAT, json=HELLO)
    assert r.status_code == 200
    body = r.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "fake"
    assert body["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hello world"},
        "logprobs": None,
        "finish_reason": "stop",
        "stop_reason": None,
    }]
    assert body["usage"] == {
        "prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    (request,) = backend.requests
    assert request.request_id == body["id"]
    assert request.messages[0].role == "user" and request.messages[0].content == "Hi"


async def test_chat_stop_reason_and_length(client, backend):
    backend.finish_reason, backend.stop_reason = "length", None
    r = await client.post(CHAT, json=HELLO)
    assert r.json()["choices"][0]["finish_reason"] == "length"
    backend.finish_reason, backend.stop_reason = "stop", "END"
    r = await client.post(CHAT, json=HELLO)
    assert r.json()["choices"][0]["stop_reason"] == "END"


async def test_chat_content_parts_and_roles(client, backend):
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
         "name": "bob"},
        {"role": "assistant", "content": None},
        {"role": "tool", "content": "result", "tool_call_id": "call_1"},
    ]
    r = await client.post(CHAT, json={"model": "fake", "messages": messages})
    assert r.status_code == 200, r.text
    got = backend.requests[0].messages
    assert [m.role for m in got] == ["system", "developer", "user", "assistant", "tool"]
    assert got[2].content == "a\nb" and got[2].name == "bob"
    assert got[3].content == ""


async def test_chat_stream_sequence(client):
    r = await client.post(CHAT, json={**HELLO, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert all("usage" not in c for c in chunks)
    choices = [c["choices"][0] for c in chunks]
    assert choices[0]["delta"] == {"role": "assistant", "content": ""}
    # the empty delta is skipped
    assert [c["delta"] for c in choices[1:-1]] == [{"content": "Hello"}, {"content": " world"}]
    assert choices[-1]["delta"] == {} and choices[-1]["finish_reason"] == "stop"
    assert all(c["finish_reason"] is None for c in choices[:-1])


async def test_chat_stream_include_usage(client):
    payload = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events((await client.post(CHAT, json=payload)).text)
    assert events[-1] == "[DONE]"
    last = events[-2]
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] == 9
    assert last["usage"]["prompt_tokens_details"] == {"cached_tokens": 3}
    assert all(e["usage"] is None for e in events[:-2])


async def test_stream_options_requires_stream(client):
    r = await client.post(CHAT, json={**HELLO, "stream_options": {"include_usage": True}})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "stream_options"


async def test_chat_n2(client, backend):
    r = await client.post(CHAT, json={**HELLO, "n": 2})
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert all(c["message"]["content"] == "Hello world" for c in choices)
    assert backend.requests[0].n == 2


async def test_chat_n2_stream(client):
    events = sse_events((await client.post(CHAT, json={**HELLO, "n": 2, "stream": True})).text)
    chunks = events[:-1]
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"] == {"role": "assistant", "content": ""}
        assert "".join(c["delta"].get("content", "") for c in mine) == "Hello world"
        assert mine[-1]["finish_reason"] == "stop"
        assert sum(c["finish_reason"] is not None for c in mine) == 1


async def test_chat_n_above_capability(client):
    r = await client.post(CHAT, json={**HELLO, "n": 5})
    assert r.status_code == 400 and r.json()["error"]["param"] == "n"


async def test_chat_logprobs(client):
    r = await client.post(CHAT, json={**HELLO, "logprobs": True, "top_logprobs": 2})
    content = r.json()["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in content] == ["Hello", " world"]
    first = content[0]
    assert first["logprob"] == -0.25 and first["bytes"] == list(b"Hello")
    assert first["top_logprobs"] == [
        {"token": "Hello#0", "logprob": -1.0, "bytes": list(b"Hello#0")},
        {"token": "Hello#1", "logprob": -2.0, "bytes": list(b"Hello#1")},
    ]


async def test_chat_logprobs_stream(client):
    payload = {**HELLO, "logprobs": True, "top_logprobs": 1, "stream": True}
    chunks = sse_events((await client.post(CHAT, json=payload)).text)[:-1]
    deltas = [c["choices"][0] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert [d["logprobs"]["content"][0]["token"] for d in deltas] == ["Hello", " world"]
    assert len(deltas[0]["logprobs"]["content"][0]["top_logprobs"]) == 1


@pytest.mark.parametrize(("fields", "expected"), [
    ({"max_tokens": 5}, 5),
    ({"max_completion_tokens": 6}, 6),
    ({"max_tokens": 7, "max_completion_tokens": 7}, 7),
    ({}, None),
])
async def test_max_tokens_alias(client, backend, fields, expected):
    r = await client.post(CHAT, json={**HELLO, **fields})
    assert r.status_code == 200
    assert backend.requests[0].sampling.max_tokens == expected


async def test_max_tokens_conflict(client):
    r = await client.post(CHAT, json={**HELLO, "max_tokens": 5, "max_completion_tokens": 6})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "max_completion_tokens"
