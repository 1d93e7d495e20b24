"""POST /v1/messages (not streamed) and /v1/messages/count_tokens over HTTP: the message
object, stop reasons, usage, Anthropic's error envelope and statuses, auth by x-api-key."""

from __future__ import annotations

import dataclasses
from typing import Any

import anthropic
import pytest

from openmini.config import ServerConfig
from openmini.errors import ContextLengthExceeded, Overloaded
from openmini.server.anthropic.responses import signature

from .conftest import HELLO, MESSAGES, CountingBackend

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


async def test_message_object(client, backend: CountingBackend) -> None:
    r = await client.post(MESSAGES, json=HELLO, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("msg_") and body["id"] == backend.requests[0].request_id
    assert body == {"id": body["id"], "type": "message", "role": "assistant", "model": "fake",
                    "content": [{"type": "text", "text": "Hello world"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 4, "output_tokens": 2,
                              "cache_read_input_tokens": 3}}


@pytest.mark.parametrize(("finish", "detail", "reason", "sequence"), [
    ("stop", "END", "stop_sequence", "END"),
    ("stop", None, "end_turn", None),
    ("stop", r"\d", "end_turn", None),  # a stop that is not one of the stop_sequences
    ("length", None, "max_tokens", None),
    ("content_filter", None, "refusal", None),
])
async def test_stop_reasons(client, backend, finish, detail, reason, sequence) -> None:
    backend.finish_reason, backend.stop_reason = finish, detail
    r = await client.post(MESSAGES, json={**HELLO, "stop_sequences": ["END"]})
    assert (r.json()["stop_reason"], r.json()["stop_sequence"]) == (reason, sequence)


async def test_thinking_and_tool_use_blocks(client, backend) -> None:
    backend.reasoning, backend.pieces = ("Let me ", "think."), ("Sure. ", CALL)
    r = await client.post(MESSAGES, json={
        **HELLO, "tools": [WEATHER], "thinking": {"type": "enabled", "budget_tokens": 16}})
    body = r.json()
    assert body["stop_reason"] == "tool_use"
    thinking, text, call = body["content"]
    assert thinking == {"type": "thinking", "thinking": "Let me think.",
                        "signature": signature("Let me think.")}
    assert text == {"type": "text", "text": "Sure."}
    assert call["type"] == "tool_use" and call["id"].startswith("toolu_")
    assert call["name"] == "get_weather" and call["input"] == {"city": "Paris"}
    assert backend.requests[0].reasoning is not None


async def test_sdk_round_trip(sdk: anthropic.AsyncAnthropic, backend) -> None:
    message = await sdk.messages.create(model="fake", max_tokens=16, system="Be nice.",
                                        messages=[{"role": "user", "content": "Hi"}],
                                        metadata={"user_id": "u-1"})
    assert message.content[0].type == "text" and message.content[0].text == "Hello world"
    assert message.usage.input_tokens == 4 and message.usage.cache_read_input_tokens == 3
    assert [m.role for m in backend.requests[0].messages] == ["system", "user"]


async def test_count_tokens(client, sdk: anthropic.AsyncAnthropic, backend) -> None:
    count = await sdk.messages.count_tokens(
        model="fake", system="one two", messages=[{"role": "user", "content": [
            {"type": "text", "text": "three"}, {"type": "text", "text": "four"}]}],
        thinking={"type": "enabled", "budget_tokens": 2048})
    assert count.input_tokens == 4
    assert backend.counted[0].reasoning is not None
    assert backend.requests == []  # nothing generated
    r = await client.post(f"{MESSAGES}/count_tokens", json={**HELLO})
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


async def test_count_tokens_counts_what_the_pipeline_sends(client, backend) -> None:
    r = await client.post(f"{MESSAGES}/count_tokens", json={
        "model": "fake", "system": "one two", "tools": [WEATHER],
        "messages": [{"role": "user", "content": "three four five"}]})
    assert r.status_code == 200 and r.json() == {"input_tokens": 5}
    [request] = backend.counted
    assert request.tools[0].name == "get_weather"


def error_of(r: Any, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert set(body["error"]) == {"type", "message"}
    return str(body["error"]["message"])


@pytest.mark.parametrize(("body", "named"), [
    ({k: v for k, v in HELLO.items() if k != "max_tokens"}, "max_tokens"),
    ({**HELLO, "frobnicate": 1}, "frobnicate"),
    ({**HELLO, "service_tier": "auto"}, "service_tier"),
    ({**HELLO, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
     "messages.0.content.0"),
    ({**HELLO, "messages": [{"role": "user", "content": [{"type": "text", "text": "a",
                                                          "extra": 1}]}]},
     "messages.0.content.0.extra"),
    ({**HELLO, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ({**HELLO, "thinking": {"type": "adaptive"}}, "thinking"),
    ({**HELLO, "temperature": 1.5}, "temperature"),
    ({**HELLO, "max_tokens": "5"}, "max_tokens"),
    ({**HELLO, "metadata": {"user_id": "u", "session": "s"}}, "metadata.session"),
    ({**HELLO, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0"),
])
async def test_invalid_requests_name_the_field(client, backend, body, named) -> None:
    message = error_of(await client.post(MESSAGES, json=body), 400, "invalid_request_error")
    assert named in message
    assert backend.requests == []


async def test_a_model_without_vision_names_the_image_block(client, backend) -> None:
    block = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    for path, extra in ((MESSAGES, {"max_tokens": 8}), (f"{MESSAGES}/count_tokens", {})):
        r = await client.post(path, json={"model": "fake", "system": "s", **extra, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "see"}, block]}]})
        message = error_of(r, 400, "invalid_request_error")
        assert "'messages[0].content[1]' of type 'image'" in message
    assert backend.requests == [] and backend.counted == []


async def test_unknown_model_is_not_found(client) -> None:
    message = error_of(await client.post(MESSAGES, json={**HELLO, "model": "nope"}), 404,
                       "not_found_error")
    assert "nope" in message
    r = await client.post(f"{MESSAGES}/count_tokens", json={
        "model": "nope", "messages": HELLO["messages"]})
    error_of(r, 404, "not_found_error")


async def test_statuses_map_to_anthropic_types(client, backend) -> None:
    backend.raise_before = Overloaded("queue full", retry_after=2.2)
    r = await client.post(MESSAGES, json=HELLO)
    error_of(r, 429, "rate_limit_error")
    assert r.headers["retry-after"] == "3"
    backend.raise_before = ContextLengthExceeded("prompt too long")
    error_of(await client.post(MESSAGES, json={**HELLO, "stream": True}), 400,
             "invalid_request_error")
    backend.raise_before = RuntimeError("secret internals")
    r = await client.post(MESSAGES, json=HELLO)
    assert "secret" not in error_of(r, 500, "api_error")
    error_of(await client.get(MESSAGES), 405, "invalid_request_error")
    error_of(await client.post(f"{MESSAGES}/nowhere", json=HELLO), 404, "not_found_error")


async def test_other_routes_keep_the_openai_envelope(client) -> None:
    r = await client.post("/v1/chat/completions", json={"model": "nope", "messages": [
        {"role": "user", "content": "Hi"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


async def test_sdk_raises_its_own_error_classes(sdk: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        await sdk.messages.create(model="nope", max_tokens=8,
                                  messages=[{"role": "user", "content": "Hi"}])
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        await sdk.messages.create(model="fake", max_tokens=8, messages=[
            {"role": "user", "content": "Hi"}], extra_body={"top_a": 1})
    assert "top_a" in bad.value.message


@pytest.mark.parametrize("config", [dataclasses.replace(ServerConfig(), max_body_bytes=300)])
async def test_too_large_is_request_too_large(client, config) -> None:
    body = {**HELLO, "system": "x" * 1000}
    error_of(await client.post(MESSAGES, json=body), 413, "request_too_large")


class TestApiKey:
    @pytest.fixture
    def config(self) -> ServerConfig:
        return dataclasses.replace(ServerConfig(), api_key="s3cret")

    async def test_x_api_key_is_accepted(self, client) -> None:
        r = await client.post(MESSAGES, json=HELLO,
                              headers={"x-api-key": "s3cret", "anthropic-version": "2023-06-01"})
        assert r.status_code == 200
        r = await client.post("/v1/chat/completions", json={
            "model": "fake", "messages": HELLO["messages"]}, headers={"x-api-key": "s3cret"})
        assert r.status_code == 200
        r = await client.post(MESSAGES, json=HELLO, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200

    @pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"},
                                         {"x-api-key": "", "Authorization": "Bearer no"}])
    async def test_wrong_key_is_authentication_error(self, client, backend, headers) -> None:
        r = await client.post(MESSAGES, json=HELLO, headers=headers)
        assert "s3cret" not in error_of(r, 401, "authentication_error")
        r = await client.post("/v1/chat/completions", json=HELLO, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert backend.requests == []
