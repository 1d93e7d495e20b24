"""stop_regex, max_sentences, max_time and named hooks over HTTP: validation (a 400 naming
the field) and the hooks the Request carries, in order."""

from __future__ import annotations

import pytest

from openmini.hooks.builtin import MaxSentences, MaxTime, StopRegex

from .fake_backend import FakeBackend

HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


async def test_criteria_become_hooks_in_order(client, backend: FakeBackend):
    r = await client.post("/v1/chat/completions", json={
        **HELLO, "stop_regex": [r"\d+"], "max_sentences": 2, "max_time": 1.5,
        "hooks": [{"name": "max_sentences", "args": {"n": 3}}]})
    assert r.status_code == 200
    hooks = backend.requests[-1].hooks
    assert [type(h) for h in hooks] == [StopRegex, MaxSentences, MaxTime, MaxSentences]
    assert hooks[1].n == 2 and hooks[2].seconds == 1.5 and hooks[3].n == 3


async def test_text_completions_take_criteria_too(client, backend: FakeBackend):
    r = await client.post("/v1/completions", json={
        "model": "fake", "prompt": "x", "stop_regex": ["a+b"], "max_time": 2})
    assert r.status_code == 200
    assert [type(h) for h in backend.requests[-1].hooks] == [StopRegex, MaxTime]


async def test_hook_by_name_string(client, backend: FakeBackend):
    r = await client.post("/v1/chat/completions", json={
        **HELLO, "hooks": [{"name": "stop_regex", "args": {"patterns": ["x"]}}]})
    assert r.status_code == 200
    assert isinstance(backend.requests[-1].hooks[0], StopRegex)


@pytest.mark.parametrize(("extra", "param"), [
    ({"stop_regex": "abc"}, "stop_regex"),
    ({"stop_regex": []}, "stop_regex"),
    ({"stop_regex": ["ok", "(unclosed"]}, "stop_regex[1]"),
    ({"stop_regex": ["a*"]}, "stop_regex[0]"),
    ({"stop_regex": [""]}, "stop_regex[0]"),
    ({"max_sentences": 0}, "max_sentences"),
    ({"max_sentences": 1.5}, "max_sentences"),
    ({"max_sentences": True}, "max_sentences"),
    ({"max_time": 0}, "max_time"),
    ({"max_time": -2.0}, "max_time"),
    ({"max_time": "5"}, "max_time"),
    ({"max_time": 7200}, "max_time"),
    ({"hooks": ["no_such_hook"]}, "hooks[0]"),
    ({"hooks": [{"name": "max_time"}]}, "hooks[0].args"),
    ({"hooks": [{"name": "max_time", "args": {"seconds": 1, "x": 2}}]}, "hooks[0].args"),
    ({"hooks": [{"name": "max_time", "args": {"seconds": -1}}]}, "hooks[0].args"),
    ({"hooks": [{"nom": "max_time"}]}, "hooks[0]"),
    ({"hooks": [3]}, "hooks.0"),
])
async def test_invalid_criteria_are_400_naming_the_field(client, extra, param):
    r = await client.post("/v1/chat/completions", json={**HELLO, **extra})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


async def test_a_backend_without_hooks_refuses_them(client, backend: FakeBackend):
    from dataclasses import replace

    backend.capabilities = replace(backend.capabilities, token_hooks=False)
    r = await client.post("/v1/chat/completions", json={**HELLO, "max_sentences": 1})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "hooks"
    assert (await client.post("/v1/chat/completions", json=HELLO)).status_code == 200
