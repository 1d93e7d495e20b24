"""`bad_words` on both endpoints: carried into SamplingParams, or a 400 naming it (fake
backend)."""

from __future__ import annotations

import pytest

from openmini.decoding.bad_words import MAX_PHRASE_CHARS, MAX_PHRASES

CHAT = "/v1/chat/completions"
TEXT = "/v1/completions"
BODIES = ((CHAT, {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}),
          (TEXT, {"model": "fake", "prompt": "Hi"}))


@pytest.mark.parametrize(("url", "body"), BODIES)
async def test_bad_words_reach_the_sampling_params(client, backend, url, body):
    r = await client.post(url, json={**body, "bad_words": ["Paris", "the Eiffel Tower"]})
    assert r.status_code == 200, r.text
    assert backend.requests[-1].sampling.bad_words == ("Paris", "the Eiffel Tower")
    for absent in ({}, {"bad_words": None}, {"bad_words": []}):
        r = await client.post(url, json={**body, **absent})
        assert r.status_code == 200, r.text
        assert backend.requests[-1].sampling.bad_words == ()


@pytest.mark.parametrize("url", [CHAT, TEXT])
@pytest.mark.parametrize("value", [
    [""], ["ok", ""], "Paris", [1], ["x" * (MAX_PHRASE_CHARS + 1)],
    [f"w{i}" for i in range(MAX_PHRASES + 1)],
])
async def test_bad_bad_words_are_400(client, backend, url, value):
    body = dict(BODIES)[url]
    r = await client.post(url, json={**body, "bad_words": value})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"].split(".")[0] == "bad_words"
    assert error["type"] == "invalid_request_error"
    assert not backend.requests


@pytest.mark.parametrize(("url", "body"), BODIES)
async def test_content_filter_finish_reason_is_public(client, backend, parse_sse, url, body):
    backend.finish_reason = "content_filter"  # a choice that could not get around bad_words
    r = await client.post(url, json={**body, "bad_words": ["x"]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] == "content_filter"
    r = await client.post(url, json={**body, "bad_words": ["x"], "stream": True})
    finals = [c["choices"][0] for c in parse_sse(r.text)[:-1] if c["choices"]]
    assert finals[-1]["finish_reason"] == "content_filter"
