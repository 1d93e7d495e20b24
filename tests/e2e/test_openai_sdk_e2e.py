"""End to end: the real `openmini serve` process on the `tiny` model, driven by the official
`openai` SDK (and raw httpx where the SDK hides what is tested)."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.model

MODEL = "tiny"  # the model tests/e2e/conftest.py serves
HELLO = [{"role": "user", "content": "Say hello to the world."}]


def gauge(base_url: str, name: str) -> float:
    for line in httpx.get(f"{base_url}/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing from /metrics")


def running(base_url: str) -> float:
    return gauge(base_url, "openmini_running_sequences")


def test_chat_non_streaming(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=16,
                                         temperature=0)
    assert out.object == "chat.completion"
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content
    assert out.choices[0].finish_reason in {"stop", "length"}
    assert out.usage is not None and out.usage.completion_tokens <= 16
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_stream_matches_non_streaming(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=20,
                                           temperature=0)
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=20,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_n_and_seed_repeatability(client: openai.OpenAI) -> None:
    kwargs = dict(model=MODEL, messages=HELLO, max_tokens=12, temperature=1.0, seed=42, n=2)
    a = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    b = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    assert len(a.choices) == 2 and [c.index for c in a.choices] == [0, 1]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]


def test_completions_endpoint(client: openai.OpenAI) -> None:
    out = client.completions.create(model=MODEL, prompt="The capital of France is",
                                    max_tokens=5, temperature=0,
                                    extra_body={"ignore_eos": True})
    assert out.object == "text_completion"
    assert out.choices[0].finish_reason == "length"
    assert out.usage is not None and out.usage.completion_tokens == 5


def test_prefix_cache_is_reported(client: openai.OpenAI) -> None:
    system = {"role": "system", "content": "You answer in one short sentence. " * 30}
    for question in ("What is rain?", "What is snow?"):
        out = client.chat.completions.create(
            model=MODEL, messages=[system, {"role": "user", "content": question}],
            max_tokens=4, temperature=0)
    details = out.usage.prompt_tokens_details  # type: ignore[union-attr]
    assert details is not None and details.cached_tokens is not None
    assert details.cached_tokens > 150


def test_concurrent_requests(base_url: str) -> None:
    async def main() -> list[str]:
        sdk = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=3)
        outs = await asyncio.gather(*(sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"Number {i}?"}],
            max_tokens=8, temperature=0) for i in range(3)))
        return [o.choices[0].message.content or "" for o in outs]

    assert all(asyncio.run(main()))


def test_disconnect_cancels_the_sequence(base_url: str) -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 900, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        for _ in range(4):
            next(lines)
        assert running(base_url) >= 1
    deadline = time.monotonic() + 3
    while running(base_url) > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running(base_url) == 0


def test_overload_gives_429_with_retry_after(base_url: str) -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 600, "ignore_eos": True}

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            busy = [asyncio.create_task(http.post("/v1/chat/completions", json=body))
                    for _ in range(3)]  # two run (--parallel 2), one waits (--max-queue 1)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                    running(base_url) == 2 and gauge(base_url, "openmini_queue_depth") == 1):
                await asyncio.sleep(0.05)
            extra = await http.post("/v1/chat/completions", json=body)
            for task in busy:
                task.cancel()
            await asyncio.gather(*busy, return_exceptions=True)
            return extra

    def drained() -> bool:
        return running(base_url) == 0 and gauge(base_url, "openmini_queue_depth") == 0

    resp = asyncio.run(main())
    deadline = time.monotonic() + 5  # the cancelled requests leave before the next test runs
    while not drained() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert drained()
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.json()["error"]["type"] == "rate_limit_error"


def test_bad_input_names_the_parameter(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=HELLO, temperature=5)
    assert bad.value.body["param"] == "temperature"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(model=MODEL, messages=HELLO,
                                       extra_body={"frobnicate": 1})
    assert unknown.value.body["param"] == "frobnicate"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    with pytest.raises(openai.BadRequestError) as long:
        client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5000)
    assert long.value.code == "context_length_exceeded"


def test_models_listing(client: openai.OpenAI) -> None:
    assert MODEL in [m.id for m in client.models.list()]


def test_server_timing_reports_engine_and_total(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/chat/completions",
                   json={"model": MODEL, "messages": HELLO, "max_tokens": 3}, timeout=60)
    assert r.status_code == 200, r.text
    timing = dict(part.strip().split(";dur=") for part in r.headers["server-timing"].split(","))
    engine, total = float(timing["engine"]), float(timing["total"])
    assert 0 < engine <= total  # milliseconds; total - engine is the HTTP layer's share
