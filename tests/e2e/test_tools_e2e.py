"""Function calling through the real server with the openai SDK (tiny model, plain-text tags)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai
import pytest

MODEL = "tiny"
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "maxLength": 20},
                                      "unit": {"type": "string", "enum": ["c", "f"]}},
                       "required": ["city", "unit"], "additionalProperties": False},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
SCHEMA = WEATHER["function"]["parameters"]


def test_required_call_is_schema_valid(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER],  # type: ignore[arg-type, list-item]
                                       tool_choice="required", max_tokens=80, temperature=0,
                                       parallel_tool_calls=False)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), SCHEMA)


def test_named_choice_and_streamed_deltas_reassemble(client: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    stream = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER],  # type: ignore[arg-type, list-item]
                                            tool_choice=named, max_tokens=80,  # type: ignore[arg-type]
                                            temperature=0, stream=True,
                                            parallel_tool_calls=False)
    ids, names, arguments, finish = set(), set(), "", None
    for chunk in stream:
        for c in chunk.choices:
            for d in c.delta.tool_calls or []:
                assert d.index == 0
                ids.add(d.id) if d.id else None
                names.add(d.function.name) if d.function and d.function.name else None
                arguments += (d.function.arguments or "") if d.function else ""
            finish = c.finish_reason or finish
    assert finish == "tool_calls" and names == {"get_weather"} and len(ids) == 1
    jsonschema.validate(json.loads(arguments), SCHEMA)


def test_tool_round_trip(client: openai.OpenAI) -> None:
    messages: list[Any] = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "c"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}]
    r = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER],
                                       tool_choice="none", max_tokens=20, temperature=0)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert not r.choices[0].message.tool_calls


@pytest.mark.parametrize(("tools", "param"), [
    ([{"type": "function", "function": {"name": "bad name!"}}], "tools[0].function.name"),
    ([{"type": "function", "function": {"name": "f", "parameters": {"type": "strin"}}}],
     "tools[0].function.parameters"),
])
def test_bad_tool_definitions_are_400(client: openai.OpenAI, tools: Any, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=ASK, tools=tools, max_tokens=5)
    assert err.value.body["param"] == param  # type: ignore[index]


def test_tool_message_needs_its_call_id(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, max_tokens=5, messages=[  # type: ignore[list-item]
            *ASK, {"role": "tool", "content": "x"}])
    assert err.value.body["param"] == "messages.1.tool_call_id"  # type: ignore[index]


REPLY = {"type": "json_schema", "json_schema": {"name": "reply", "strict": True, "schema": {
    "type": "object", "properties": {"reply": {"type": "string", "maxLength": 40}},
    "required": ["reply"], "additionalProperties": False}}}


def test_response_format_with_tools_none_answers_in_the_format(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER],  # type: ignore[arg-type, list-item]
                                       tool_choice="none", response_format=REPLY,  # type: ignore[arg-type]
                                       max_tokens=60, temperature=0)
    message = r.choices[0].message
    assert not message.tool_calls
    jsonschema.validate(json.loads(message.content or ""), REPLY["json_schema"]["schema"])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_response_format_with_tools_auto_calls_or_answers_in_format(
        client: openai.OpenAI, seed: int) -> None:
    r = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER],  # type: ignore[arg-type, list-item]
                                       response_format=REPLY, max_tokens=80,  # type: ignore[arg-type]
                                       temperature=1.0, seed=seed, parallel_tool_calls=False)
    choice = r.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls"
        jsonschema.validate(json.loads(choice.message.tool_calls[0].function.arguments), SCHEMA)
    else:
        assert choice.finish_reason == "stop"
        jsonschema.validate(json.loads(choice.message.content or ""),
                            REPLY["json_schema"]["schema"])


def test_pydantic_function_tool_with_nested_models(client: openai.OpenAI) -> None:
    """`openai.pydantic_function_tool` writes nested models and enums as `$defs` + `$ref`:
    the call is constrained through them, and `parse()` rebuilds the model."""
    from enum import StrEnum

    from pydantic import BaseModel

    class Unit(StrEnum):
        c = "c"
        f = "f"

    class Place(BaseModel):
        city: str
        country: str

    class GetWeather(BaseModel):
        place: Place
        unit: Unit

    tool = openai.pydantic_function_tool(GetWeather)
    assert "$defs" in json.dumps(tool)
    r = client.chat.completions.parse(model=MODEL, messages=ASK, tools=[tool],  # type: ignore[list-item]
                                      tool_choice="required", max_tokens=80, temperature=0,
                                      parallel_tool_calls=False)
    [call] = r.choices[0].message.tool_calls or []
    parsed = call.function.parsed_arguments
    assert isinstance(parsed, GetWeather) and parsed.unit in (Unit.c, Unit.f)


def test_composed_parameters_are_callable(client: openai.OpenAI) -> None:
    """Parameters built by composition (a base definition through `allOf` + `$ref`, a kind
    field beside the `anyOf` branches it selects, as OpenAPI-derived tools write them): the
    call grammar closes the object above its members, so the keys they add stay reachable
    (closing each member made this a 400, "required property ... is unsatisfiable")."""
    params = {"type": "object",
              "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}},
                                  "required": ["city"]}},
              "allOf": [{"$ref": "#/$defs/Place"}],
              "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"],
              "anyOf": [{"properties": {"days": {"type": "integer"}}, "required": ["days"]},
                        {"properties": {"hours": {"type": "integer"}}, "required": ["hours"]}]}
    tool = {"type": "function", "function": {"name": "forecast", "parameters": params}}
    r = client.chat.completions.create(model=MODEL, messages=ASK, tools=[tool],  # type: ignore[arg-type, list-item]
                                       tool_choice="required", max_tokens=80, temperature=0,
                                       parallel_tool_calls=False)
    [call] = r.choices[0].message.tool_calls or []
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, params)
    assert set(arguments) <= {"city", "unit", "days", "hours"}


def test_exclusive_parameters_are_callable(client: openai.OpenAI) -> None:
    """"Exactly one of `id`, `email`" (`oneOf` of `required`): a 400 before (overlapping
    `oneOf`); the call now has one of the two keys, never both, and passes validation."""
    params = {"type": "object", "properties": {"id": {"type": "integer"},
                                               "email": {"type": "string", "maxLength": 30}},
              "oneOf": [{"required": ["id"]}, {"required": ["email"]}]}
    tool = {"type": "function", "function": {"name": "find_user", "parameters": params}}
    r = client.chat.completions.create(model=MODEL, tools=[tool],  # type: ignore[arg-type, list-item]
                                       messages=[{"role": "user", "content": "Find user 42."}],
                                       tool_choice="required", max_tokens=60, temperature=0,
                                       parallel_tool_calls=False)
    [call] = r.choices[0].message.tool_calls or []
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, params)
    assert len(set(arguments) & {"id", "email"}) == 1
