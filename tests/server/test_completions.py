from __future__ import annotations

import pytest

from .conftest import sse_events

URL = "/v1/completions"
BASE = {"model": "fake", "prompt": "Once"}


async def test_completion_body_shape(client, backend):
    r = await client.post(URL, json=BASE)
    assert r.status_code == 200
    body = r.json()
    assert body["id"].startswith("cmpl-")
    assert body["object"] == "text_completion"
    assert body["model"] == "fake"
    assert body["choices"] == [{"index": 0, "text": "Hello world", "logprobs": None,
                                "finish_reason": "stop", "stop_reason": None}]
    assert body["usage"]["total_tokens"] == 9
    (request,) = backend.requests
    assert request.prompt == "Once" and request.messages is None


async def test_prompt_list_of_one(client, backend):
    r = await client.post(URL, json={**BASE, "prompt": ["Once upon"]})
    assert r.status_code == 200
    assert backend.requests[0].prompt == "Once upon"


@pytest.mark.parametrize("prompt", [["a", "b"], [1, 2, 3], [], 5])
async def test_prompt_other_shapes_rejected(client, prompt):
    r = await client.post(URL, json={**BASE, "prompt": prompt})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "prompt"


async def test_completion_stream(client):
    payload = {**BASE, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events((await client.post(URL, json=payload)).text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"text_completion"}
    texts = [c["choices"][0] for c in chunks[:-1]]
    assert [t["text"] for t in texts] == ["Hello", " world", ""]
    assert texts[-1]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2


async def test_completion_logprobs(client, backend):
    r = await client.post(URL, json={**BASE, "logprobs": 2})
    logprobs = r.json()["choices"][0]["logprobs"]
    assert logprobs == {
        "tokens": ["Hello", " world"],
        "token_logprobs": [-0.25, -0.25],
        "top_logprobs": [{"Hello#0": -1.0, "Hello#1": -2.0},
                         {" world#0": -1.0, " world#1": -2.0}],
        "text_offset": [0, 5],
    }
    sampling = backend.requests[0].sampling
    assert sampling.logprobs and sampling.top_logprobs == 2


async def test_completion_logprobs_stream_offsets(client):
    payload = {**BASE, "logprobs": 0, "stream": True}
    chunks = sse_events((await client.post(URL, json=payload)).text)[:-1]
    offsets = [c["choices"][0]["logprobs"]["text_offset"] for c in chunks
               if c["choices"][0]["logprobs"]]
    assert offsets == [[0], [5]]


@pytest.mark.parametrize(("fields", "param"), [
    ({"suffix": "end"}, "suffix"),
    ({"echo": True}, "echo"),
    ({"best_of": 3}, "best_of"),
    ({"logprobs": 6}, "logprobs"),
])
async def test_completion_unsupported(client, fields, param):
    r = await client.post(URL, json={**BASE, **fields})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


@pytest.mark.parametrize("fields", [{"echo": False}, {"best_of": 1}, {"best_of": 2, "n": 2},
                                    {"suffix": None}])
async def test_completion_accepted_noops(client, fields):
    r = await client.post(URL, json={**BASE, **fields})
    assert r.status_code == 200, r.text
