"""decoding/schema_negation.py: `not` and `propertyNames` forms, enforced exactly as written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint
from openmini.decoding.schema_rewrite import rewrite
from openmini.errors import InvalidRequest

Check = Callable[[Any, list[Any]], None]
VALUES: list[Any] = [None, True, 3, 2.5, "s", [1], {}, {"a": 1}]


@pytest.mark.parametrize("negated", [{"type": "object"}, {"type": ["string", "null"]},
                                     {"type": "number"}, {"title": "nothing", "type": "array"}])
def test_not_of_types(same_language: Check, negated: Any) -> None:
    for schema in ({"not": negated}, {"type": ["integer", "string"], "not": negated}):
        assert "not" not in rewrite(schema)
        same_language(schema, VALUES)


def test_not_of_everything_forbids_the_property(same_language: Check,
                                                compiler: GrammarCompiler) -> None:
    schema = {"type": "object", "properties": {"a": {"not": {}}, "b": {"type": "integer"}}}
    assert rewrite(schema)["properties"]["a"] is False
    same_language(schema, [{}, {"b": 1}, {"a": 1}, {"a": None, "b": 1}])
    with pytest.raises(InvalidRequest):  # a schema nothing fits cannot be generated
        compiler.matcher(Constraint.json_schema({"not": True}, "response_format"))


def test_not_of_anything_else_is_refused(compiler: GrammarCompiler) -> None:
    for schema in ({"not": {"type": "integer"}}, {"not": {"const": 1}}):
        assert rewrite(schema) == schema
        with pytest.raises(InvalidRequest, match="not"):
            compiler.matcher(Constraint.json_schema(schema, "response_format"))


OBJECTS: list[Any] = [{}, {"a": 1}, {"b": "x"}, {"a": 1, "c": 2}, {"c": "y"}, {"d": 1},
                      {"12": "x"}, {"12": 3}, {"x1": "x"}, 7]


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"type": "integer"}, "d": {}},
     "propertyNames": {"enum": ["a", "b", "c"]}},
    {"type": "object", "properties": {"a": {"type": "integer"}},
     "additionalProperties": {"type": "string"}, "propertyNames": {"const": "c"}},
    {"type": "object", "additionalProperties": {"type": "integer"},
     "propertyNames": {"not": {"enum": ["b", "d"]}}},
    {"type": "object", "additionalProperties": {"type": "string"},
     "propertyNames": {"pattern": "^[1-9][0-9]*$"}},
    {"type": "object", "propertyNames": {"type": "string", "pattern": "^[a-c]$"}},
    {"type": "object", "patternProperties": {"^[1-9][0-9]*$": {"type": "string"}},
     "propertyNames": {"pattern": "^[1-9][0-9]*$"}},  # a map keyed by the same pattern
])
def test_property_names(same_language: Check, schema: dict[str, Any]) -> None:
    assert "propertyNames" not in rewrite(schema)
    same_language(schema, OBJECTS)


def test_property_names_left_as_written() -> None:
    for names in ({"pattern": "a|b"}, {"pattern": "^a"}, {"maxLength": 3}):
        schema = {"type": "object", "propertyNames": names}
        assert rewrite(schema) == schema
    for with_patterns in ({"type": "object", "patternProperties": {"^x": {}},
                           "propertyNames": {"enum": ["x1"]}},
                          {"type": "object", "patternProperties": {"^x$": {}, "^y$": {}},
                           "propertyNames": {"pattern": "^x$"}}):
        assert rewrite(with_patterns) == with_patterns


KIND = {"type": "string", "enum": ["a", "b", "c"]}
# llguidance writes declared properties in their order: instances list them so, extras last
PROPS = {"kind": KIND, "flag": {"type": "boolean"}, "x": {}, "y": {}}
CONDITIONAL_INSTANCES: list[Any] = [
    {}, {"kind": "a"}, {"kind": "a", "x": 1}, {"kind": "b"}, {"kind": "b", "y": 1},
    {"kind": "c", "x": 1, "y": 2}, {"x": 1}, {"y": 1}, {"flag": False}, {"flag": True, "x": 1},
    {"flag": False, "x": 1}, {"kind": "a", "x": 1, "z": 0}, {"y": 1, "z": 0}]


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": PROPS,
     "if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]},
     "else": {"required": ["y"]}},
    {"type": "object", "properties": PROPS,
     "if": {"properties": {"kind": {"enum": ["a", "b"]}}, "required": ["kind"]},
     "then": {"required": ["x"]}},
    {"type": "object", "properties": PROPS,
     "if": {"properties": {"flag": {"const": False}}}, "then": {"required": ["x"]}},
    {"type": "object", "properties": PROPS, "allOf": [
        {"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]}},
        {"if": {"properties": {"kind": {"const": "b"}}}, "then": {"required": ["y"]}}]},
    {"type": "object", "properties": PROPS,  # every value: only an absent kind fails `if`
     "if": {"properties": {"kind": {"enum": ["a", "b", "c"]}}, "required": ["kind"]},
     "then": {"required": ["x"]}, "else": {"required": ["y"]}},
])
def test_conditionals_on_a_property_with_finite_values(same_language: Check,
                                                       schema: dict[str, Any]) -> None:
    assert '"if"' not in json.dumps(rewrite(schema))
    same_language(schema, CONDITIONAL_INSTANCES)


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": PROPS,  # when x is given, so is y
     "if": {"required": ["x"]}, "then": {"required": ["y"]}},
    {"type": "object", "properties": PROPS, "if": {"required": ["x", "y"]},
     "then": {"properties": {"flag": {"const": True}}}, "else": {"required": ["kind"]}},
    {"properties": PROPS, "if": {"type": "object"}, "then": {"required": ["x"]},
     "else": {"type": "string"}},
])
def test_conditionals_whose_test_can_be_negated(same_language: Check,
                                                schema: dict[str, Any]) -> None:
    assert '"if"' not in json.dumps(rewrite(schema))
    same_language(schema, [*CONDITIONAL_INSTANCES, {"flag": False, "x": 1, "y": 2}, "s", 3, None])


def test_conditionals_on_open_values_are_refused(compiler: GrammarCompiler) -> None:
    schema = {"type": "object", "properties": {"kind": {"type": "string"}, "x": {}},
              "if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]}}
    assert rewrite(schema) == schema
    with pytest.raises(InvalidRequest, match="if"):
        compiler.matcher(Constraint.json_schema(schema, "response_format"))
