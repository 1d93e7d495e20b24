from __future__ import annotations

import pytest

CHAT = "/v1/chat/completions"
HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


def error_of(r, status=400):
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


async def test_unknown_params_listed(client, backend):
    r = await client.post(CHAT, json={**HELLO, "foo": 1, "bar": 2})
    error = error_of(r)
    assert error["param"] == "foo"
    assert "foo" in error["message"] and "bar" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert backend.requests == []


async def test_unknown_nested_param(client):
    messages = [{"role": "user", "content": "Hi", "colour": "red"}]
    error = error_of(await client.post(CHAT, json={"model": "fake", "messages": messages}))
    assert error["param"] == "messages.0.colour"


@pytest.mark.parametrize(("field", "value"), [
    ("functions", [{"name": "f"}]),
    ("function_call", "auto"),
    ("modalities", ["audio"]),
    ("store", True),
])
async def test_unsupported_params(client, field, value):
    error = error_of(await client.post(CHAT, json={**HELLO, field: value}))
    assert error["param"] == field
    assert "not supported" in error["message"]
    assert error["code"] == "unsupported_parameter"


async def test_store_false_is_what_openmini_does(client, backend):
    # OpenAI's `store: false` (BFCL's harness and others send it): nothing is stored anyway
    r = await client.post(CHAT, json={**HELLO, "store": False})
    assert r.status_code == 200, r.text
    assert len(backend.requests) == 1


async def test_unsupported_wins_over_unknown(client):
    error = error_of(await client.post(CHAT, json={**HELLO, "zzz": 1, "functions": [],
                                                   "audio": {}}))
    assert error["param"] == "functions"
    assert "audio" in error["message"]


async def test_null_unsupported_is_absent(client):
    messages = [{"role": "user", "content": "Hi", "tool_calls": None, "refusal": None}]
    r = await client.post(CHAT, json={"model": "fake", "messages": messages, "tools": None,
                                      "response_format": None})
    assert r.status_code == 200, r.text


async def test_message_level_unsupported(client):
    messages = [{"role": "assistant", "content": "x", "refusal": "no"}]
    error = error_of(await client.post(CHAT, json={"model": "fake", "messages": messages}))
    assert error["param"] == "messages.0.refusal"
    assert "not supported" in error["message"]


async def test_image_part_unsupported(client):
    content = [{"type": "text", "text": "look"},
               {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]
    messages = [{"role": "user", "content": content}]
    error = error_of(await client.post(CHAT, json={"model": "fake", "messages": messages}))
    assert error["param"] == "messages[0].content[1]"
    assert "image_url" in error["message"]


@pytest.mark.parametrize(("fields", "param"), [
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_k": -1}, "top_k"),
    ({"min_p": 1.1}, "min_p"),
    ({"n": 0}, "n"),
    ({"n": "2"}, "n"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"frequency_penalty": 3}, "frequency_penalty"),
    ({"presence_penalty": -2.5}, "presence_penalty"),
    ({"repetition_penalty": 0}, "repetition_penalty"),
    ({"logit_bias": {"5": 101}}, "logit_bias.5"),
    ({"logit_bias": {"word": 1}}, "logit_bias"),
    ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"stop": ["a", ""]}, "stop.1"),
    ({"stop": [str(i) for i in range(17)]}, "stop"),
    ({"stop": 5}, "stop"),
    ({"seed": 1.5}, "seed"),
    ({"stream": "yes"}, "stream"),
    ({"priority": "high"}, "priority"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"model": None}, "model"),
])
async def test_bad_values_name_param(client, fields, param):
    error = error_of(await client.post(CHAT, json={**HELLO, **fields}))
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


async def test_missing_model(client):
    error = error_of(await client.post(CHAT, json={"messages": HELLO["messages"]}))
    assert error["param"] == "model"


async def test_bad_json(client):
    r = await client.post(CHAT, content=b"{not json",
                          headers={"content-type": "application/json"})
    error = error_of(r)
    assert "JSON" in error["message"] and error["param"] is None


async def test_body_not_an_object(client):
    error = error_of(await client.post(CHAT, json=[1, 2]))
    assert error["param"] is None


async def test_unknown_model_404(client):
    r = await client.post(CHAT, json={**HELLO, "model": "gpt-9"})
    error = error_of(r, 404)
    assert error["param"] == "model" and error["code"] == "model_not_found"


async def test_unknown_model_404_when_streaming(client):
    r = await client.post("/v1/completions", json={"model": "nope", "prompt": "x",
                                                   "stream": True})
    assert error_of(r, 404)["code"] == "model_not_found"


async def test_unknown_route_envelope(client):
    error = error_of(await client.get("/v1/nothing"), 404)
    assert error["type"] == "invalid_request_error"
