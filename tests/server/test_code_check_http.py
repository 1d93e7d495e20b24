"""`code_check` over HTTP: the extension fields on the message and the last chunk, the 400s,
and the openai SDK's extra_body against a real server."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from openmini.config import ServerConfig

from .conftest import sse_events
from .fake_backend import FakeBackend
from .routes.serving import serving

CHAT = "/v1/chat/completions"
BROKEN = ("Here:\n", "```python\n", "def add(a, b)\n", "    return a + b\n", "```\n", "Done.")
FIXED = ("```python\n", "def add(a, b):\n", "    return a + b\n", "```",)


def body(**code_check: Any) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": "add"}],
            "code_check": code_check}


async def test_report_puts_the_diagnostics_on_the_message(client: httpx.AsyncClient,
                                                          backend: FakeBackend) -> None:
    backend.answers = [BROKEN]
    r = await client.post(CHAT, json=body(mode="report"))
    message = r.json()["choices"][0]["message"]
    assert message["content"] == "".join(BROKEN)
    [diag] = message["code_diagnostics"]
    assert diag["block"] == 0 and diag["language"] == "python" and diag["line"] == 1
    assert "code_repairs" not in message


async def test_repair_answers_with_the_repaired_block(client: httpx.AsyncClient,
                                                      backend: FakeBackend) -> None:
    backend.answers = [BROKEN, FIXED]
    r = await client.post(CHAT, json=body(mode="repair", max_repairs=1))
    out = r.json()
    message = out["choices"][0]["message"]
    assert "def add(a, b):\n" in message["content"] and message["content"].endswith("Done.")
    assert message["code_diagnostics"] == [] and message["code_repairs"] == 1
    assert out["usage"]["prompt_tokens"] == 2 * backend.usage.prompt_tokens
    assert len(backend.requests) == 2


async def test_streaming_carries_the_report_on_the_last_chunk(
        client: httpx.AsyncClient, backend: FakeBackend) -> None:
    backend.answers = [BROKEN, FIXED]
    r = await client.post(CHAT, json={**body(mode="repair"), "stream": True})
    chunks = [c for c in sse_events(r.text) if c != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "def add(a, b):\n" in text and "def add(a, b)\n" not in text
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] == "stop"
    assert last["delta"] == {"code_diagnostics": [], "code_repairs": 1}


async def test_bad_code_check_fields_are_400s_naming_them(client: httpx.AsyncClient) -> None:
    for check, param in [({"mode": "fix"}, "code_check.mode"),
                         ({"languages": ["python", "nope"]}, "code_check.languages[1]"),
                         ({"max_repairs": 99}, "code_check.max_repairs")]:
        r = await client.post(CHAT, json=body(**check))
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    r = await client.post(CHAT, json=body(mode="report", colour="red"))
    assert r.status_code == 400 and "colour" in r.text


def test_the_openai_sdk_sends_code_check_in_extra_body() -> None:
    backend = FakeBackend(answers=[BROKEN, FIXED])
    with serving(ServerConfig(), backend) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        out = client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "add"}],
            extra_body={"code_check": {"mode": "repair", "languages": ["python"]}})
        message = out.choices[0].message
        assert "def add(a, b):" in (message.content or "")
        extra = message.model_extra or {}
        assert extra["code_repairs"] == 1 and extra["code_diagnostics"] == []
        backend.answers = [BROKEN]
        stream = client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "add"}], stream=True,
            extra_body={"code_check": {"mode": "report"}})
        last = list(stream)[-1].choices[0]
        assert last.finish_reason == "stop"
        [diag] = (last.delta.model_extra or {})["code_diagnostics"]
        assert diag["language"] == "python"


def test_through_the_sdk_a_second_repair_is_asked_after_the_first_failed_one() -> None:
    """The user's loop with two repairs: the first regeneration is still broken, the second
    is asked with that attempt and its diagnostics in its conversation, and fixes it."""
    still = ("```python\n", "def add(a, b\n", "    return a + b\n", "```")
    backend = FakeBackend(answers=[BROKEN, still, FIXED])
    with serving(ServerConfig(), backend) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        out = client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "add"}],
            extra_body={"code_check": {"mode": "repair", "max_repairs": 2}})
    message = out.choices[0].message
    assert "def add(a, b):\n" in (message.content or "")
    extra = message.model_extra or {}
    assert extra["code_repairs"] == 2 and extra["code_diagnostics"] == []
    third = backend.requests[2].messages
    assert third is not None and third[-2].content == "".join(still)
    assert third[-1].content.startswith("That code still does not parse as python")
    assert "the line: `def add(a, b`" in third[-1].content


async def test_a_client_leaving_during_a_repair_cancels_it(app: Any,
                                                           backend: FakeBackend) -> None:
    """The repair is a second generation: a client that goes away while it runs closes it
    (non-streaming: 499; streaming: no [DONE]), as with any request."""
    import asyncio

    from .test_disconnect import call

    for stream in (False, True):
        backend.requests.clear()
        backend.answers, backend.delay = [BROKEN, FIXED * 1000], 0.01  # a repair of ~40 s
        leave = asyncio.Event()

        async def leave_during_the_repair(leave: asyncio.Event = leave) -> None:
            while len(backend.requests) < 2:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
            leave.set()

        watcher = asyncio.create_task(leave_during_the_repair())
        sent = await call(app, CHAT, {**body(mode="repair"), "stream": stream}, leave)
        await watcher
        assert backend.cancelled and len(backend.requests) == 2
        if stream:
            assert b"[DONE]" not in b"".join(m.get("body", b"") for m in sent)
        else:
            assert sent[0]["status"] == 499


async def test_a_second_turn_after_a_repaired_answer_keeps_the_conversation(
        client: httpx.AsyncClient, backend: FakeBackend) -> None:
    """The agent loop: turn 1 is repaired; the client sends it back as history with turn 2,
    whose own broken block is repaired with the whole conversation before it."""
    backend.answers = [BROKEN, FIXED]
    first = (await client.post(CHAT, json=body(mode="repair")))
    answer = first.json()["choices"][0]["message"]["content"]
    history = [{"role": "user", "content": "add"}, {"role": "assistant", "content": answer},
               {"role": "user", "content": "now subtract"}]
    broken = ("```python\n", "def sub(a, b)\n", "    return a - b\n", "```\n")
    fixed = ("```python\n", "def sub(a, b):\n", "    return a - b\n", "```\n")
    backend.answers = [broken, fixed]
    backend.requests.clear()
    r = await client.post(CHAT, json={**body(mode="repair"), "messages": history})
    message = r.json()["choices"][0]["message"]
    assert message["content"] == "".join(fixed) and message["code_repairs"] == 1
    repair = backend.requests[1].messages
    assert repair is not None
    assert [(m.role, m.content) for m in repair[:3]] == [(h["role"], h["content"])
                                                         for h in history]
    assert repair[3].role == "assistant" and "def sub(a, b)\n" in repair[3].content
    assert repair[4].role == "user" and "does not parse" in repair[4].content
