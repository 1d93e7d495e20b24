"""Calls answered in this turn are not made again in auto (tools/answered.py), at schema level
(jsonschema as the oracle) and under the real call grammar (llguidance, a real vocabulary)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.tools.answered import answered, canonical, differing, excluding, other_than
from openmini.tools.calls import ToolCall
from openmini.tools.grammar import CallFormat, build, call_schema, tool_constraint
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import ChatMessage

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
        "additionalProperties": False}


def exchange(name: str, arguments: str, call_id: str = "call_1") -> list[ChatMessage]:
    return [ChatMessage("assistant", "", tool_calls=(ToolCall(call_id, name, arguments),)),
            ChatMessage("tool", '{"ok": true}', tool_call_id=call_id)]


def test_answered_calls_of_the_turn_most_recent_first() -> None:
    messages = [ChatMessage("user", "Weather in Oslo, then Bergen?"),
                *exchange("get_weather", '{"city": "Oslo"}', "a"),
                *exchange("get_weather", '{ "city" : "Bergen" }', "b"),
                *exchange("get_weather", '{"city": "Oslo"}', "c")]
    assert answered(messages) == (("get_weather", '{"city":"Oslo"}'),
                                  ("get_weather", '{"city":"Bergen"}'))


def test_the_turn_and_the_last_batch_count() -> None:
    unanswered = ChatMessage("assistant", "", tool_calls=(ToolCall("x", "ls", "{}"),))
    messages = [ChatMessage("user", "List the files."), *exchange("ls", "{}", "a"),
                ChatMessage("assistant", "a.txt"), ChatMessage("user", "And now?"),
                unanswered, *exchange("pwd", "{}", "b")]
    # ls() was made in the previous turn, and pwd() since: it may return something else now
    assert answered(messages) == (("pwd", "{}"),)
    moved = [ChatMessage("user", "List the files."), *exchange("ls", "{}", "a"),
             *exchange("cd", '{"to": "docs"}', "b"), ChatMessage("assistant", "Done."),
             ChatMessage("user", "What's the tracking number?")]
    # a new question right after an exchange: its last batch still holds, ls() may not
    assert answered(moved) == (("cd", '{"to":"docs"}'),)
    assert answered(moved[:1]) == ()


def test_unreadable_or_non_object_arguments_are_not_matched() -> None:
    messages = [ChatMessage("user", "q"), *exchange("f", "{not json", "a"),
                *exchange("g", "[1]", "b")]
    assert answered(messages) == ()


def test_canonical_spelling() -> None:
    assert canonical({"b": 1.0, "a": [2.0, "é"]}) == '{"a":[2,"é"],"b":1}'


def allows(schema: Any, value: Any) -> bool:
    if schema is False:
        return False
    return jsonschema.Draft202012Validator(schema).is_valid(value)


WIDE = {"type": "object", "additionalProperties": False, "required": ["q"], "properties": {
    "q": {"type": "string", "minLength": 1, "pattern": "^[a-z ]+$"},
    "n": {"type": "integer", "minimum": 1, "maximum": 10},
    "x": {"type": "number"},
    "on": {"type": "boolean"},
    "unit": {"enum": ["c", "f"]},
    "tags": {"type": "array", "items": {"type": "string"}},
    "opt": {"type": ["string", "null"]},
    "where": {"type": "object", "properties": {"lat": {"type": "number"}},
              "required": ["lat"], "additionalProperties": False}}}
MADE = {"q": "oslo", "n": 3, "x": 1.5, "on": True, "unit": "c", "tags": ["a", "b"],
        "opt": None, "where": {"lat": 59.9}}
OTHERS = [{**MADE, "q": "osl"}, {**MADE, "q": "oslo x"}, {**MADE, "n": 2}, {**MADE, "n": 4},
          {**MADE, "x": 1.25}, {**MADE, "on": False}, {**MADE, "unit": "f"},
          {**MADE, "tags": ["a"]}, {**MADE, "tags": ["a", "c"]}, {**MADE, "tags": []},
          {**MADE, "tags": ["a", "b", "c"]}, {**MADE, "opt": "x"},
          {**MADE, "where": {"lat": 10}}, {k: v for k, v in MADE.items() if k != "tags"}]


def test_every_other_value_is_kept_and_only_the_answered_one_is_dropped() -> None:
    narrowed = differing(WIDE, MADE)
    assert not allows(narrowed, MADE)
    for other in OTHERS:
        assert allows(WIDE, other) and allows(narrowed, other), other
    assert not allows(narrowed, {**MADE, "q": "Oslo"})  # the schema's own pattern still holds
    for slip in ("oslo ", " oslo", ""):  # differing by spaces alone, or a placeholder
        assert not allows(narrowed, {**MADE, "q": slip})
    assert not allows(narrowed, {**MADE, "n": 11})


def test_bounds_leave_no_empty_side() -> None:
    at_edge = {"type": "integer", "minimum": 3, "maximum": 4}
    assert differing(at_edge, 3) == {**at_edge, "exclusiveMinimum": 3}
    assert differing({"type": "integer", "minimum": 3, "maximum": 3}, 3) is False
    assert differing({"type": "boolean", "const": True}, True) is False


def test_several_calls_and_a_call_with_no_way_to_differ() -> None:
    narrowed = excluding(CITY, [canonical({"city": "Oslo"}), canonical({"city": "Bergen"})])
    assert not allows(narrowed, {"city": "Oslo"}) and not allows(narrowed, {"city": "Bergen"})
    assert allows(narrowed, {"city": "Paris"})
    no_arguments = {"type": "object", "properties": {}, "additionalProperties": False}
    assert excluding(no_arguments, ["{}"]) is False


def test_calls_taking_turns_are_all_excluded() -> None:
    """A, B, then A again (`fast` on a typo: unit celsius, fahrenheit, celsius): the second
    exclusion meets the branch that left `unit` out, which its value is no instance of."""
    unit = {"type": "object", "additionalProperties": False, "required": ["city"],
            "properties": {"city": {"type": "string"},
                           "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}
    made = [{"city": "Olso", "unit": "fahrenheit"}, {"city": "Olso", "unit": "celsius"}]
    narrowed = excluding(unit, [canonical(m) for m in made])
    assert not any(allows(narrowed, m) for m in made)
    assert allows(narrowed, {"city": "Olso"}) and allows(narrowed, {"city": "Oslo",
                                                                     "unit": "celsius"})


@pytest.mark.parametrize("schema", [
    {"$ref": "#/$defs/x"},
    {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}},
     "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": "string"}}},  # open: other keys differ
])
def test_what_cannot_be_said_is_left_as_the_client_wrote_it(schema: Any) -> None:
    assert excluding(schema, [canonical({"a": "x"})]) == schema


@pytest.mark.parametrize("value", ['say "hi"', "C:\\temp", "x" * 500])
def test_strings_patterns_cannot_hold_are_not_excluded(value: str) -> None:
    assert excluding(CITY, [canonical({"city": value})]) == CITY


def test_other_than_is_every_string_but_one() -> None:
    import re

    pattern = re.compile(other_than("a.b\n-]"))
    for text in ["", "a", "a.b\n-", "a.b\n-]!", "x", "a.c\n-]", "axb\n-]"]:
        assert pattern.fullmatch(text), text
    assert not pattern.fullmatch("a.b\n-]")


# --- under the real grammar -----------------------------------------------------------------

WEATHER = ToolSpec("get_weather", "", {"type": "object", "properties": {
    "city": {"type": "string"}}, "required": ["city"]})
TIME = ToolSpec("get_time", "", {"type": "object", "properties": {}})


def accepts(compiler: GrammarCompiler, tokenizer: Any, mode: str, text: str,
            made: tuple[tuple[str, str], ...]) -> bool:
    choice = ToolChoice(mode, "get_weather" if mode == "function" else None)  # type: ignore[arg-type]
    constraint = tool_constraint((WEATHER, TIME), choice, True, CallFormat(), None, made)
    matcher = compiler.matcher(constraint)
    tokens = tokenizer.tokenize_str(text)
    return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())


def call(name: str, arguments: dict[str, Any]) -> str:
    return ('<tool_call>\n' + json.dumps({"name": name, "arguments": arguments})
            + "\n</tool_call>")


MADE_CALLS = (("get_weather", canonical({"city": "Oslo"})), ("get_time", "{}"))


def test_grammar_refuses_the_answered_call_in_auto(compiler: GrammarCompiler,
                                                   tokenizer: Any) -> None:
    def ok(text: str, mode: str = "auto") -> bool:
        return accepts(compiler, tokenizer, mode, text, MADE_CALLS)

    assert not ok(call("get_weather", {"city": "Oslo"}))
    assert not ok(call("get_time", {}))  # a call with no arguments, made once
    assert ok(call("get_weather", {"city": "Bergen"}))
    assert ok(call("get_weather", {"city": "Oslo, Norway"}))
    assert not ok(call("get_weather", {"city": "Oslo "}))
    assert not ok(call("get_weather", {"city": ""}))
    assert ok("It is -3 °C and snowing in Oslo.")
    # a client may still force it
    assert ok(call("get_weather", {"city": "Oslo"}), "function")
    assert ok(call("get_weather", {"city": "Oslo"}), "required")


def test_the_longest_string_excluded_still_compiles(compiler: GrammarCompiler,
                                                   tokenizer: Any) -> None:
    """A value at MAX_STRING nests as many groups in its pattern: llguidance still takes it
    (fast once called with a 213-character timezone of brackets, and the next request was a
    400: "exceed the maximum number of nested parentheses")."""
    from openmini.tools.answered import MAX_STRING

    value = "Europe/Berlin" + "}]" * ((MAX_STRING - 13) // 2)
    made = (("get_weather", canonical({"city": value})),)
    assert accepts(compiler, tokenizer, "auto", call("get_weather", {"city": "Oslo"}), made)
    assert not accepts(compiler, tokenizer, "auto", call("get_weather", {"city": value}), made)


def test_no_call_left_means_text_only(compiler: GrammarCompiler, tokenizer: Any) -> None:
    made = (*MADE_CALLS, ("get_weather", canonical({"city": "Bergen"})))
    assert call_schema((TIME,), made) is None
    narrowed = tool_constraint((TIME,), ToolChoice("auto"), True, CallFormat(), None, made)
    none = tool_constraint((TIME,), ToolChoice("none"), True, CallFormat())
    assert build(narrowed.spec) == build(none.spec)  # the grammar of tool_choice none
    matcher = compiler.matcher(narrowed)
    assert all(matcher.consume_token(t) for t in tokenizer.tokenize_str("Done."))
