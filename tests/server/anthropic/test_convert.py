"""Anthropic bodies -> the internal Request: the same one the OpenAI edge builds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from openmini.backends.base import Capabilities
from openmini.errors import ImageRefused, InvalidRequest, UnsupportedParameter
from openmini.reasoning.effort import reasoning_spec
from openmini.server.anthropic.convert import count_request, messages_request
from openmini.server.anthropic.schemas import CountTokensRequest, MessagesRequest
from openmini.server.convert import chat_request
from openmini.server.schemas import ChatCompletionRequest
from openmini.tools.calls import ToolCall
from openmini.tools.spec import ToolChoice
from openmini.types import ChatMessage, ImagePart, Request

CAPS = Capabilities()
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"]}
PNG = "iVBORw0KGgo="


def convert(**body: Any) -> Request:
    full = {"model": "m", "max_tokens": 64, **body}
    return messages_request(MessagesRequest.model_validate(full), CAPS, "msg_1").request


def openai(**body: Any) -> Request:
    return chat_request(ChatCompletionRequest.model_validate({"model": "m", **body}), CAPS,
                        "msg_1")


def test_the_same_request_as_the_openai_edge() -> None:
    """A tool round trip with an image, said both ways, is one internal Request."""
    ours = convert(
        system="Be brief.", temperature=0.5, top_p=0.9, top_k=40, stop_sequences=["END"],
        tools=[{"name": "weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 32},
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": PNG}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather",
                 "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}]}])
    theirs = openai(
        max_completion_tokens=64, temperature=0.5, top_p=0.9, top_k=40, stop=["END"],
        tools=[{"type": "function", "function": {"name": "weather", "description": "Weather",
                                                 "parameters": WEATHER_SCHEMA}}],
        tool_choice="auto", parallel_tool_calls=False, thinking_budget=32,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny"}])
    assert ours == theirs


def test_image_sources_and_places() -> None:
    request = convert(messages=[{"role": "user", "content": [
        {"type": "text", "text": "one"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "two"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp",
                                     "data": "UklG"}}]}])
    [message] = request.messages or ()
    assert message.content == "one\ntwo"
    assert message.images == (ImagePart(url="https://example.com/a.png", at=3, index=1),
                              ImagePart(url="data:image/webp;base64,UklG", at=7, index=3))


def test_tool_results_split_the_user_turn_in_order() -> None:
    request = convert(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "a", "name": "f", "input": {}},
            {"type": "tool_use", "id": "b", "name": "g", "input": {"x": "é"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "a",
             "content": [{"type": "text", "text": "r1"}, {"type": "text", "text": "r2"}]},
            {"type": "tool_result", "tool_use_id": "b", "content": "boom", "is_error": True},
            {"type": "text", "text": "and now?"}]}])
    assert request.messages == (
        ChatMessage("user", "go"),
        ChatMessage("assistant", "", tool_calls=(ToolCall("a", "f", "{}"),
                                                 ToolCall("b", "g", '{"x": "é"}'))),
        ChatMessage("tool", "r1\nr2", tool_call_id="a"),
        ChatMessage("tool", "Error: boom", tool_call_id="b"),
        ChatMessage("user", "and now?"))


def test_system_blocks_and_dropped_thinking() -> None:
    request = convert(system=[{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                              {"type": "text", "text": "b"}],
                      messages=[{"role": "user", "content": "q"},
                                {"role": "assistant", "content": [
                                    {"type": "redacted_thinking", "data": "xx"},
                                    {"type": "text", "text": "ans", "citations": None}]},
                                {"role": "user", "content": []}])
    assert request.messages == (ChatMessage("system", "a\nb"), ChatMessage("user", "q"),
                                ChatMessage("assistant", "ans"), ChatMessage("user", ""))


def test_sampling_and_defaults() -> None:
    request = convert(messages=[{"role": "user", "content": "q"}], metadata={"user_id": "u1"})
    assert request.sampling.max_tokens == 64 and request.sampling.temperature == 1.0
    assert request.sampling.stop == () and request.reasoning is None and not request.stream
    assert request.tools == () and request.tool_choice is None
    request = convert(messages=[{"role": "user", "content": "q"}], temperature=0, stream=True,
                      thinking={"type": "disabled"})
    assert request.sampling.temperature == 0 and request.stream and request.reasoning is None


@pytest.mark.parametrize(("choice", "expected", "parallel"), [
    ({"type": "auto"}, ToolChoice("auto"), True),
    ({"type": "any"}, ToolChoice("required"), True),
    ({"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
     ToolChoice("function", "weather"), False),
    ({"type": "none"}, ToolChoice("none"), True),
])
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice, parallel: bool) -> None:
    request = convert(messages=[{"role": "user", "content": "q"}], tool_choice=choice,
                      tools=[{"name": "weather", "input_schema": WEATHER_SCHEMA}])
    assert request.tool_choice == expected and request.parallel_tool_calls is parallel
    assert request.tools[0].name == "weather" and request.tools[0].parameters == WEATHER_SCHEMA


@pytest.mark.parametrize(("body", "param"), [
    ({"tool_choice": {"type": "any"}}, "tool_choice"),
    ({"tools": [{"name": "w", "input_schema": WEATHER_SCHEMA}],
      "tool_choice": {"type": "tool", "name": "x"}}, "tool_choice.name"),
    ({"tools": [{"name": "w w", "input_schema": WEATHER_SCHEMA}]}, "tools[0].name"),
    ({"tools": [{"name": "w", "input_schema": {"type": "string"}}]}, "tools[0].input_schema"),
    ({"tools": [{"name": "w", "input_schema": {"type": "object", "properties": 3}}]},
     "tools[0].input_schema"),
    ({"tools": [{"name": "w", "input_schema": WEATHER_SCHEMA}] * 2}, "tools[1].name"),
    ({"thinking": {"type": "enabled", "budget_tokens": 64}}, "thinking.budget_tokens"),
    ({"thinking": {"type": "enabled", "budget_tokens": 8}}, "thinking.budget_tokens"),
    ({"messages": [{"role": "assistant", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x"}}]},
                   {"role": "user", "content": "q"}]}, "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "{"}]},
     "messages[1]"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_use", "id": "a", "name": "f", "input": {}}]}]}, "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a",
                                                 "content": [{"type": "image", "source": {
                                                     "type": "url", "url": "https://x"}}]}]}]},
     "messages[0].content[0].content[0]"),
])
def test_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    body = {"messages": [{"role": "user", "content": "q"}], **body}
    with pytest.raises(InvalidRequest) as exc:
        convert(**body)
    assert exc.value.param == param and param in exc.value.message


def test_thinking_needs_a_reasoning_model() -> None:
    body = MessagesRequest.model_validate({"model": "m", "max_tokens": 64, "messages": [
        {"role": "user", "content": "q"}], "thinking": {"type": "enabled", "budget_tokens": 32}})
    with pytest.raises(UnsupportedParameter) as exc:
        messages_request(body, replace(CAPS, reasoning=False), "msg_1")
    assert exc.value.param == "thinking"
    assert messages_request(body, CAPS, "m").request.reasoning == reasoning_spec(None, 32)


def test_count_request_is_the_prompt_alone() -> None:
    body = CountTokensRequest.model_validate({"model": "m", "system": "s", "messages": [
        {"role": "user", "content": "q"}], "thinking": {"type": "enabled", "budget_tokens": 4096}})
    request = count_request(body, CAPS).request
    assert request.messages == (ChatMessage("system", "s"), ChatMessage("user", "q"))
    assert request.reasoning == reasoning_spec(None, 4096) and request.sampling.max_tokens is None


def test_wire_error_names_the_image_block() -> None:
    body = MessagesRequest.model_validate({"model": "m", "max_tokens": 8, "system": "s",
                                           "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f",
                                           "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "a", "content": "r"},
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "url", "url": "http://127.0.0.1/x.png"}}]}]})
    converted = messages_request(body, CAPS, "m")
    # internal: system, user, assistant, tool, user(text + image) -> the image is message 4
    error = ImageRefused("blocked address").at("messages[4].content[2].image_url")
    renamed = converted.wire_error(error)
    assert renamed.param == "messages[2].content[2].source"  # type: ignore[attr-defined]
    assert str(renamed) == "messages[2].content[2].source: blocked address"
    other = InvalidRequest("x", param="max_tokens")
    assert converted.wire_error(other) is other and other.param == "max_tokens"
