"""Arguments are checked against each function's schema; errors read well, for users and model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from openmini.tools.calls import ToolCall, new_call_id
from openmini.tools.parsers.hermes import HermesParser
from openmini.tools.spec import ToolSpec
from openmini.tools.validate import retry_feedback, validate_call, validate_calls

WEATHER = ToolSpec("get_weather", "Current weather", {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "coords": {"type": "object", "properties": {"lat": {"type": "number",
                                                            "minimum": -90, "maximum": 90}}},
    },
    "required": ["location"],
    "additionalProperties": False,
})
EMAIL = ToolSpec("send_email", "Send an email", {
    "type": "object",
    "properties": {"to": {"type": "string", "format": "email"},
                   "on": {"type": "string", "format": "date"},
                   "cc": {"type": "array", "items": {"type": "string", "format": "email"}}},
    "required": ["to"],
})
PING = ToolSpec("ping")
SPECS = (WEATHER, EMAIL, PING)


def test_valid_arguments_have_no_errors() -> None:
    assert validate_call(WEATHER, {"location": "Paris", "unit": "celsius",
                                   "coords": {"lat": 48.85}}) == []
    assert validate_call(PING, {}) == []


@pytest.mark.parametrize(("arguments", "errors"), [
    ({}, ["$: 'location' is a required property"]),
    ({"location": 75001}, ["$.location: 75001 is not of type 'string'"]),
    ({"location": "Paris", "unit": "kelvin"},
     ["$.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']"]),
    ({"location": "Paris", "coords": {"lat": 123}},
     ["$.coords.lat: 123 is greater than the maximum of 90"]),
    ({"location": "Paris", "city": "Paris"},
     ["$: Additional properties are not allowed ('city' was unexpected)"]),
    ({"unit": "kelvin", "location": None},
     ["$.location: None is not of type 'string'",
      "$.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']"]),
    ("Paris", ["$: 'Paris' is not of type 'object'"]),
])
def test_errors_carry_the_json_path(arguments: Any, errors: list[str]) -> None:
    assert validate_call(WEATHER, arguments) == errors


def test_formats_are_checked() -> None:
    assert validate_call(EMAIL, {"to": "ana@example.com", "on": "2025-03-01"}) == []
    assert validate_call(EMAIL, {"to": "not an address", "on": "March 1st",
                                 "cc": ["ok@example.com", "nope"]}) == [
        "$.cc[1]: 'nope' is not a 'email'",
        "$.on: 'March 1st' is not a 'date'",
        "$.to: 'not an address' is not a 'email'",
    ]



@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("date-time", "2025-03-01T12:00:00Z", "2025-03-01 noon"),
    ("uri", "https://example.com/a?b=c", "example dot com"),
    ("uri-reference", "../a/b#c", "a b"),
    ("hostname", "api.example.com", "-bad-.com"),
    ("duration", "P1DT2H", "two days"),
    ("json-pointer", "/a/b~1c", "a/b"),
    ("uri-template", "/users/{id}", "/users/{id"),
])
def test_formats_past_the_nine_builtin_checkers(fmt: str, good: str, bad: str) -> None:
    """jsonschema checks only nine formats without its format extra: these passed unchecked."""
    spec = ToolSpec("f", parameters={"type": "object", "properties": {
        "v": {"type": "string", "format": fmt}}})
    assert validate_call(spec, {"v": good}) == []
    assert validate_call(spec, {"v": bad}) == [f"$.v: {bad!r} is not a {fmt!r}"]

def test_schema_dialect_follows_dollar_schema() -> None:
    spec = ToolSpec("f", parameters={"$schema": "http://json-schema.org/draft-04/schema#",
                                     "type": "object",
                                     "properties": {"n": {"type": "number", "minimum": 0,
                                                          "exclusiveMinimum": True}}})
    assert validate_call(spec, {"n": 1}) == []
    assert validate_call(spec, {"n": 0}) == ["$.n: 0 is less than or equal to the minimum of 0"]


def test_valid_calls_become_tool_calls() -> None:
    calls, errors = validate_calls(SPECS, [("get_weather", {"location": "Zürich"}),
                                           ("ping", {})])
    assert errors == []
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"location":"Zürich"}'),
                                                      ("ping", "{}")]
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", c.id) for c in calls)
    assert len({c.id for c in calls}) == 2
    assert json.loads(calls[0].arguments) == {"location": "Zürich"}


def test_unknown_functions_and_invalid_calls_are_errors() -> None:
    calls, errors = validate_calls(SPECS, [
        ("get_stock_price", {"ticker": "AAPL"}),
        ("get_weather", {"location": "Paris", "unit": "kelvin"}),
        ("ping", {}),
    ])
    assert [c.name for c in calls] == ["ping"]
    assert errors == [
        "get_stock_price (call 1): unknown function (available: get_weather, send_email, ping)",
        "get_weather (call 2): $.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']",
    ]


def test_no_specs_means_every_call_is_unknown() -> None:
    assert validate_calls((), [("ping", {})]) == (
        [], ["ping (call 1): unknown function (available: none)"])
    assert validate_calls(SPECS, []) == ([], [])


def test_parsed_model_output_end_to_end() -> None:
    text = ('<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris, France", '
            '"unit": "celsius"}}\n</tool_call>\n<tool_call>\n{"name": "send_email", '
            '"arguments": {"to": "bob"}}\n</tool_call>')
    calls, errors = validate_calls(SPECS, HermesParser().parse(text).calls)
    assert [c.name for c in calls] == ["get_weather"]
    assert errors == ["send_email (call 2): $.to: 'bob' is not a 'email'"]


def test_retry_feedback_lists_each_error() -> None:
    errors = ["get_weather (call 1): $: 'location' is a required property",
              "tool call 2: invalid JSON (Expecting ',' delimiter at line 1 column 40)"]
    assert retry_feedback(errors) == (
        "Your tool call was invalid:\n"
        "- get_weather (call 1): $: 'location' is a required property\n"
        "- tool call 2: invalid JSON (Expecting ',' delimiter at line 1 column 40)\n"
        "Call the function again with arguments that match its parameters schema.")


def test_call_ids_look_like_openais_and_do_not_repeat() -> None:
    ids = {new_call_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids)


def test_tool_call_is_frozen() -> None:
    call = ToolCall("call_1", "ping", "{}")
    with pytest.raises(AttributeError):
        call.name = "pong"  # type: ignore[misc]
