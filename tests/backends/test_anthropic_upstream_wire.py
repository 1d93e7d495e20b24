"""AnthropicBackend's conversions, no server: the Messages API body it sends
(anthropic_wire.py) and what it refuses by name before connecting."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from openmini.backends.anthropic import AnthropicBackend
from openmini.backends.anthropic_wire import request_json
from openmini.backends.base import Capabilities
from openmini.backends.upstream_images import encode_images
from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest, ModelNotFound, UnsupportedParameter
from openmini.hooks.builtin import StopRegex
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.calls import ToolCall
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import ChatMessage, ImagePart, Request, SamplingParams

HI = (ChatMessage("user", "Hi"),)
CAPS = Capabilities(reasoning=True, prefill=True, context_length=2048)
WEATHER = ToolSpec("get_weather", "Weather.", {"type": "object"}, strict=True)


def body(request: Request, caps: Capabilities = CAPS, images: Any = None) -> dict[str, Any]:
    return request_json(request, "claude-up", images or {}, caps)[0]


def test_sampling_defaults_are_left_to_the_api_and_the_rest_passed_on() -> None:
    plain = body(Request(model="m", messages=HI))
    assert plain == {"model": "claude-up", "max_tokens": 2048, "stream": True,
                     "messages": [{"role": "user", "content": "Hi"}]}  # max_tokens: capped
    assert body(Request(model="m", messages=HI), replace(CAPS, context_length=200_000))[
        "max_tokens"] == 4096
    s = SamplingParams(max_tokens=9, temperature=0.0, top_p=0.9, top_k=40, stop=("x", "y"))
    full = body(Request(model="m", messages=HI, sampling=s))
    assert {k: v for k, v in full.items() if k not in plain or plain[k] != v} == {
        "max_tokens": 9, "temperature": 0.0, "top_p": 0.9, "top_k": 40,
        "stop_sequences": ["x", "y"]}


def test_system_turns_tool_calls_and_results() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    other = ToolCall("call_2", "get_weather", "")
    msgs = (ChatMessage("system", "Be brief."), ChatMessage("user", "Oslo?"),
            ChatMessage("developer", "Use metric."), ChatMessage("user", "And Bergen?"),
            ChatMessage("assistant", "Looking.", tool_calls=(call, other)),
            ChatMessage("tool", "12 C", tool_call_id="call_1"),
            ChatMessage("tool", "9 C", tool_call_id="call_2"),
            ChatMessage("user", "Thanks. Warmer?"))
    out = body(Request(model="m", messages=msgs, tools=(WEATHER,),
                       tool_choice=ToolChoice("function", "get_weather"),
                       parallel_tool_calls=False))
    assert out["system"] == "Be brief.\n\nUse metric."
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Oslo?"},
                                     {"type": "text", "text": "And Bergen?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather",
             "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "12 C"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "9 C"},
            {"type": "text", "text": "Thanks. Warmer?"}]}]
    assert out["tools"] == [{"name": "get_weather", "description": "Weather.",
                             "input_schema": {"type": "object"}}]  # strict: ours to check
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather",
                                  "disable_parallel_tool_use": True}


@pytest.mark.parametrize(("choice", "wire"), [
    (None, {"type": "auto"}), (ToolChoice("auto"), {"type": "auto"}),
    (ToolChoice("required"), {"type": "any"}), (ToolChoice("none"), {"type": "none"})])
def test_tool_choices(choice: ToolChoice | None, wire: dict[str, Any]) -> None:
    assert body(Request(model="m", messages=HI, tools=(WEATHER,),
                        tool_choice=choice))["tool_choice"] == wire


def test_thinking_budget_is_ours_within_max_tokens() -> None:
    def thinking(budget: int, max_tokens: int | None) -> Any:
        return body(Request(model="m", messages=HI, reasoning=reasoning_spec(None, budget),
                            sampling=SamplingParams(max_tokens=max_tokens)))["thinking"]

    assert thinking(1024, 4096) == {"type": "enabled", "budget_tokens": 1024}
    assert thinking(1024, 1100) == {"type": "enabled", "budget_tokens": 1100 - 256}
    assert thinking(64, 72) == {"type": "enabled", "budget_tokens": 36}  # as the local one
    assert thinking(4096, None)["budget_tokens"] == 2048 - 256  # the default max_tokens
    with pytest.raises(UnsupportedParameter) as info:
        thinking(64, 20)
    assert info.value.param == "thinking_budget"


async def test_images_are_base64_blocks_in_place() -> None:
    red, clear = Image.new("RGB", (8, 8), "red"), Image.new("RGBA", (4, 4))
    msgs = (ChatMessage("user", "Look\nand compare.", images=(
        ImagePart(url="u", at=0, index=0, pixels=red),
        ImagePart(url="u", at=4, index=2, pixels=clear))),)
    images = await encode_images(msgs)
    content = body(Request(model="m", messages=msgs), images=images)["messages"][0]["content"]
    assert [b["type"] for b in content] == ["image", "text", "image", "text"]
    assert content[0]["source"] == {"type": "base64", "media_type": "image/jpeg",
                                    "data": images[(0, 0)].base64}
    assert content[2]["source"]["media_type"] == "image/png"
    assert (content[1]["text"], content[3]["text"]) == ("Look", "and compare.")


def test_a_prefill_is_the_final_assistant_turn_without_trailing_whitespace() -> None:
    msgs = (*HI, ChatMessage("assistant", "Hello \n"))
    out, held = request_json(Request(model="m", messages=msgs, continue_final=True),
                             "claude-up", {}, CAPS)
    assert out["messages"][-1] == {"role": "assistant", "content": "Hello"} and held == " \n"
    blank = (*HI, ChatMessage("assistant", "  "))
    out, held = request_json(Request(model="m", messages=blank, continue_final=True),
                             "claude-up", {}, CAPS)
    assert out["messages"] == [{"role": "user", "content": "Hi"}] and held == "  "


SAMPLING_REFUSED: list[tuple[str, Any]] = [
    ("logprobs", True), ("top_logprobs", 2), ("bad_words", ("x",)),
    ("repetition_penalty", 1.1), ("presence_penalty", 0.5), ("frequency_penalty", 0.5),
    ("seed", 1), ("logit_bias", ((1, 1.0),)), ("min_p", 0.1), ("ignore_eos", True),
    ("temperature", 1.5)]
REFUSED: list[tuple[Request, str]] = [
    (Request(model="m", prompt="Once"), "prompt"),
    (Request(model="m", messages=HI, n=2), "n"),
    (Request(model="m", messages=HI, hooks=(StopRegex([r"\d"]),)), "hooks"),
    (Request(model="m", messages=HI, priority=1), "priority"),
    (Request(model="m", messages=HI, constraint=Constraint.json_schema(
        {"type": "object"}, "response_format")), "response_format"),
    (Request(model="m", messages=(ChatMessage("user", "Hi", name="ann"),)), "messages[0].name"),
    (Request(model="m", messages=(*HI, ChatMessage("assistant", "Hello"))), "messages[1]"),
    *((Request(model="m", messages=HI, sampling=SamplingParams(**{field: value})), field)
      for field, value in SAMPLING_REFUSED),
]


@pytest.mark.parametrize(("request_", "param"), REFUSED, ids=[p for _, p in REFUSED])
async def test_what_the_api_cannot_honour_is_refused_by_name(request_: Request,
                                                             param: str) -> None:
    backend = AnthropicBackend("a", "http://127.0.0.1:9", {"m": "claude-up"},
                               capabilities=CAPS)
    with pytest.raises(UnsupportedParameter) as info:
        _ = [e async for e in backend.generate(request_)]
    assert info.value.param == param
    await backend.close()


async def test_capabilities_and_what_else_is_refused() -> None:
    no = AnthropicBackend("a", "http://127.0.0.1:9/", {"m": "claude-up"},
                          capabilities=Capabilities(reasoning=False, logprobs=True, max_n=4))
    caps = no.capabilities
    assert (caps.completions, caps.logprobs, caps.max_n, caps.token_hooks, caps.prefill) == (
        False, False, 1, False, False)
    assert no.base_url == "http://127.0.0.1:9" and no.model_ids() == ["m"]
    cases: list[tuple[Request, type[Exception], str | None]] = [
        (Request(model="m", messages=HI, reasoning=reasoning_spec("low", None)),
         UnsupportedParameter, "reasoning_effort"),
        (Request(model="m", messages=(*HI, ChatMessage("assistant", "Hel")),
                 continue_final=True), UnsupportedParameter, "continue_final_message"),
        (Request(model="x", messages=HI), ModelNotFound, "model"),
        (Request(model="m", messages=(ChatMessage("assistant", "", tool_calls=(
            ToolCall("c", "f", "[1]"),)), *HI)), InvalidRequest,
         "messages[0].tool_calls[0].function.arguments")]
    for request, kind, param in cases:
        with pytest.raises(kind) as info:
            _ = [e async for e in no.generate(request)]
        assert getattr(info.value, "param", None) == param
    await no.close()
