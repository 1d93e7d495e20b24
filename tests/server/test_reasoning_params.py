"""reasoning_effort / thinking_budget over HTTP: validation, the Request, reasoning_content
on the message and on stream deltas (before the answer), reasoning_tokens in usage."""

from __future__ import annotations

import pytest

from openmini.types import Usage

from .fake_backend import FakeBackend

HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(("effort", "budget"), [
    ("minimal", 64), ("low", 256), ("medium", 1024), ("high", 4096)])
async def test_effort_sets_the_budget(client, backend: FakeBackend, effort, budget):
    r = await client.post("/v1/chat/completions", json={**HELLO, "reasoning_effort": effort})
    assert r.status_code == 200
    spec = backend.requests[-1].reasoning
    assert spec is not None and spec.budget == budget and spec.effort == effort


async def test_effort_none_and_absent_mean_no_reasoning(client, backend: FakeBackend):
    for extra in ({}, {"reasoning_effort": "none"}, {"thinking_budget": 0},
                  {"reasoning_effort": None}):
        r = await client.post("/v1/chat/completions", json={**HELLO, **extra})
        assert r.status_code == 200, extra
        assert backend.requests[-1].reasoning is None


async def test_thinking_budget_overrides_effort(client, backend: FakeBackend):
    r = await client.post("/v1/chat/completions",
                          json={**HELLO, "reasoning_effort": "high", "thinking_budget": 100})
    assert r.status_code == 200
    assert backend.requests[-1].reasoning.budget == 100


@pytest.mark.parametrize(("extra", "param"), [
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"reasoning_effort": 3}, "reasoning_effort"),
    ({"thinking_budget": 5}, "thinking_budget"),
    ({"thinking_budget": -1}, "thinking_budget"),
    ({"thinking_budget": "100"}, "thinking_budget"),
    ({"reasoning_effort": "none", "thinking_budget": 200}, "thinking_budget"),
])
async def test_invalid_reasoning_fields_are_400_naming_them(client, extra, param):
    r = await client.post("/v1/chat/completions", json={**HELLO, **extra})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


async def test_completions_take_no_reasoning_effort(client):
    r = await client.post("/v1/completions",
                          json={"model": "fake", "prompt": "x", "reasoning_effort": "low"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "reasoning_effort"


async def test_reasoning_content_and_tokens_in_the_body(client, backend: FakeBackend):
    backend.reasoning = ("Let me", " think.")
    backend.usage = Usage(prompt_tokens=7, completion_tokens=9, reasoning_tokens=4)
    r = await client.post("/v1/chat/completions", json={**HELLO, "reasoning_effort": "low"})
    body = r.json()
    message = body["choices"][0]["message"]
    assert message["reasoning_content"] == "Let me think."
    assert message["content"] == "Hello world"
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4


async def test_no_reasoning_content_key_without_reasoning(client):
    r = await client.post("/v1/chat/completions", json=HELLO)
    assert "reasoning_content" not in r.json()["choices"][0]["message"]


async def test_stream_sends_reasoning_deltas_before_content(client, backend: FakeBackend,
                                                            parse_sse):
    backend.reasoning = ("Let me", " think.")
    backend.usage = Usage(prompt_tokens=7, completion_tokens=9, reasoning_tokens=4)
    r = await client.post("/v1/chat/completions", json={
        **HELLO, "reasoning_effort": "low", "stream": True,
        "stream_options": {"include_usage": True}})
    chunks = [c for c in parse_sse(r.text) if c != "[DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    kinds = [next(iter(set(d) - {"role"}), None) for d in deltas if set(d) - {"role"}]
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    last_reasoning = max(i for i, d in enumerate(deltas) if "reasoning_content" in d)
    assert last_reasoning < first_content
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Let me think."
    assert "".join(d.get("content") or "" for d in deltas) == "Hello world"
    assert "reasoning_content" in kinds and "content" in kinds
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4


async def test_a_backend_without_reasoning_refuses_it(client, backend: FakeBackend):
    from dataclasses import replace

    backend.capabilities = replace(backend.capabilities, reasoning=False)
    r = await client.post("/v1/chat/completions", json={**HELLO, "reasoning_effort": "low"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "reasoning_effort"
