"""OpenAI `tools` and `tool_choice` become specs, or 400s that name the offending field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.tools.spec import (
    ToolChoice,
    ToolSpec,
    empty_parameters,
    tool_choice_from_openai,
    tool_specs_from_openai,
)

WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
    "additionalProperties": False,
}


def tool(name: str = "get_weather", **function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **function}}


def weather_tools() -> list[dict[str, Any]]:
    return [
        tool(description="Get the current weather", parameters=WEATHER_PARAMS, strict=True),
        tool("get_time", description="Current time in a timezone",
             parameters={"type": "object", "properties": {"tz": {"type": "string"}}}),
    ]


def test_openai_tools_become_specs() -> None:
    specs = tool_specs_from_openai(weather_tools())
    assert [s.name for s in specs] == ["get_weather", "get_time"]
    assert specs[0] == ToolSpec("get_weather", "Get the current weather", WEATHER_PARAMS, True)
    assert specs[1].strict is False


def test_defaults_for_a_function_without_description_or_parameters() -> None:
    (spec,) = tool_specs_from_openai([tool("ping")])
    assert spec == ToolSpec(name="ping")
    assert spec.description == "" and spec.strict is False
    assert spec.parameters == {"type": "object", "properties": {}} == empty_parameters()


@pytest.mark.parametrize("parameters", [None, {}])
def test_null_or_empty_parameters_mean_no_arguments(parameters: Any) -> None:
    (spec,) = tool_specs_from_openai([tool("ping", parameters=parameters, description=None,
                                           strict=None)])
    assert spec.parameters == empty_parameters()


def test_specs_do_not_share_the_callers_schema() -> None:
    tools = weather_tools()
    before = copy.deepcopy(tools)
    specs = tool_specs_from_openai(tools)
    tools[0]["function"]["parameters"]["properties"].clear()
    assert specs[0].parameters == before[0]["function"]["parameters"]


def test_spec_is_frozen() -> None:
    spec = ToolSpec("f")
    with pytest.raises(AttributeError):
        spec.name = "g"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["get_weather", "a", "A-b_9", "x" * 64])
def test_valid_names(name: str) -> None:
    assert tool_specs_from_openai([tool(name)])[0].name == name


@pytest.mark.parametrize("name", ["", "get weather", "x" * 65, "météo", "a.b", "f\n", 7,
                                  ["f"]])
def test_invalid_names(name: Any) -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai([tool(), tool(name)])
    assert e.value.param == "tools[1].function.name"
    assert "^[a-zA-Z0-9_-]{1,64}$" in e.value.message
    assert e.value.status == 400


def test_missing_name() -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai([{"type": "function", "function": {"description": "x"}}])
    assert e.value.param == "tools[0].function.name"
    assert "Missing required parameter" in e.value.message


def test_duplicate_names_point_at_the_second() -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai([tool("a"), tool("b"), tool("a")])
    assert e.value.param == "tools[2].function.name"
    assert "Duplicate function name 'a'" in e.value.message


BAD_TOOLS: list[tuple[Any, str]] = [
    ({"type": "function"}, "tools"),  # not an array
    ([], "tools"),
    (["get_weather"], "tools[0]"),
    ([{"type": "custom", "custom": {"name": "x"}}], "tools[0].type"),
    ([{"function": {"name": "x"}}], "tools[0].type"),
    ([{"type": "function"}], "tools[0].function"),
    ([{"type": "function", "function": "get_weather"}], "tools[0].function"),
    ([tool(description=42)], "tools[0].function.description"),
    ([tool(strict="yes")], "tools[0].function.strict"),
    ([tool(parameters="object")], "tools[0].function.parameters"),
    ([tool(response="dict")], "tools[0].function.response"),
    ([tool(parameters={"type": "string"})], "tools[0].function.parameters"),
    ([tool(parameters={"properties": {"a": {"type": "string"}}})],
     "tools[0].function.parameters"),
]


@pytest.mark.parametrize(("tools", "param"), BAD_TOOLS)
def test_malformed_tools_are_400s_naming_the_field(tools: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai(tools)
    assert e.value.param == param
    assert e.value.envelope()["error"]["param"] == param


def test_a_return_schema_is_accepted_and_left_out() -> None:
    # BFCL's multi-turn tools carry `response` (what the function returns); OpenAI and vLLM
    # ignore it: it says nothing about the call, and it is not a parameter
    returns = {"type": "dict", "properties": {"temp_c": {"type": "float"}}}
    [spec] = tool_specs_from_openai([tool(response=returns)])
    assert spec == tool_specs_from_openai([tool()])[0]


def test_non_object_schema_message_is_openais() -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai([tool(parameters={"type": "array"})])
    assert e.value.message == ("Invalid schema for function 'get_weather': schema must be a "
                               "JSON Schema of 'type: \"object\"', got 'type: \"array\"'.")


@pytest.mark.parametrize(("where", "tools"), [
    ("tools[0].id", [{**tool(), "id": "x"}]),
    ("tools[0].function.examples", [tool(examples=[])]),
])
def test_unknown_fields_are_rejected_by_name(where: str, tools: Any) -> None:
    with pytest.raises(UnsupportedParameter) as e:
        tool_specs_from_openai(tools)
    assert e.value.param == where
    assert e.value.code == "unsupported_parameter"


@pytest.mark.parametrize(("schema", "says"), [
    ({"type": "object", "properties": {"unit": {"type": "celsius"}}}, "'celsius' is not valid"),
    ({"type": "object", "required": "location"}, "'location' is not of type 'array'"),
    ({"type": "object", "properties": {"n": {"type": "integer", "minimum": "0"}}},
     "'0' is not of type 'number'"),
    ({"type": "object", "properties": []}, "[] is not of type 'object'"),
])
def test_schemas_are_checked_against_the_meta_schema(schema: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_specs_from_openai([tool(parameters=schema)])
    assert e.value.param == "tools[0].function.parameters"
    assert e.value.message.startswith("Invalid schema for function 'get_weather': ")
    assert says in e.value.message
    assert "(at $" in e.value.message


def test_schema_dialect_follows_dollar_schema() -> None:
    draft7 = "http://json-schema.org/draft-07/schema#"
    ok = {"$schema": draft7, "type": "object", "definitions": {"a": {"type": "string"}},
          "properties": {"a": {"$ref": "#/definitions/a"}}}
    assert tool_specs_from_openai([tool(parameters=ok)])[0].parameters == ok
    # draft 4 makes exclusiveMinimum a boolean; a number is a meta-schema error there
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
              "properties": {"n": {"type": "number", "exclusiveMinimum": 0}}}
    with pytest.raises(InvalidRequest, match="is not of type 'boolean'"):
        tool_specs_from_openai([tool(parameters=draft4)])


# -- tool_choice ---------------------------------------------------------------------------

SPECS = tool_specs_from_openai(weather_tools())


def test_absent_choice_is_auto_with_tools_and_none_without() -> None:
    assert tool_choice_from_openai(None, SPECS) == ToolChoice("auto")
    assert tool_choice_from_openai(None, ()) == ToolChoice("none")


@pytest.mark.parametrize("mode", ["auto", "none", "required"])
def test_string_choices(mode: str) -> None:
    choice = tool_choice_from_openai(mode, SPECS)
    assert choice.mode == mode and choice.name is None


def test_named_choice() -> None:
    choice = tool_choice_from_openai({"type": "function", "function": {"name": "get_time"}},
                                     SPECS)
    assert choice == ToolChoice("function", "get_time")
    assert choice.call_required
    assert [s.name for s in choice.allowed(SPECS)] == ["get_time"]


def test_what_each_choice_allows() -> None:
    assert ToolChoice("auto").allowed(SPECS) == SPECS
    assert not ToolChoice("auto").call_required
    assert ToolChoice("required").allowed(SPECS) == SPECS
    assert ToolChoice("required").call_required
    assert ToolChoice("none").allowed(SPECS) == ()


def test_none_is_accepted_without_tools() -> None:
    assert tool_choice_from_openai("none", ()) == ToolChoice("none")


@pytest.mark.parametrize(("value", "says"), [
    ({"type": "function", "function": {"name": "get_stock_price"}}, "no function named"),
    ({"type": "function", "function": {}}, "expected {'type': 'function'"),
    ({"type": "function", "name": "get_time"}, "expected {'type': 'function'"),
    ({"type": "custom", "function": {"name": "get_time"}}, "expected {'type': 'function'"),
    ("any", "Invalid value for 'tool_choice': 'any'"),
    (True, "Invalid value for 'tool_choice'"),
])
def test_bad_choices(value: Any, says: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        tool_choice_from_openai(value, SPECS)
    assert e.value.param == "tool_choice"
    assert says in e.value.message


@pytest.mark.parametrize("value", ["auto", "required", {"type": "function",
                                                        "function": {"name": "get_time"}}])
def test_choice_without_tools_is_rejected(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="only allowed when 'tools' are specified") as e:
        tool_choice_from_openai(value, ())
    assert e.value.param == "tool_choice"
