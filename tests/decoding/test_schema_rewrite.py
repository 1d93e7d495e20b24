"""decoding/schema_rewrite.py: dependencies and disjoint oneOf, enforced exactly as written.

Each rewritten schema is compiled on a real vocabulary and its language compared with what
`jsonschema` says of the schema as written, instance by instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint
from openmini.decoding.schema_rewrite import disjoint, resolve, rewrite
from openmini.errors import InvalidRequest

OBJ = {"type": "object"}
Check = Callable[[Any, list[Any]], None]


PROPS = {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "integer"}}
INSTANCES = [{}, {"a": "x"}, {"a": "x", "b": "y"}, {"b": "y"}, {"a": "x", "c": 1},
             {"a": "x", "b": "y", "c": 1}, {"b": "y", "c": 1}, {"a": "xyzw", "b": "y"}]


@pytest.mark.parametrize("schema", [
    {**OBJ, "properties": PROPS, "dependencies": {"a": ["b"]},
     "$schema": "http://json-schema.org/draft-07/schema#"},
    {**OBJ, "properties": PROPS, "dependentRequired": {"a": ["b", "c"]}},
    {**OBJ, "properties": PROPS, "dependentSchemas": {"a": {"properties": {
        "a": {"maxLength": 2}}, "required": ["c"]}}},
    {**OBJ, "properties": PROPS, "additionalProperties": False,
     "dependencies": {"b": {"required": ["c"]}},
     "$schema": "http://json-schema.org/draft-07/schema#"},
])
def test_dependencies_are_enforced_exactly(same_language: Check,
                                           schema: dict[str, Any]) -> None:
    same_language(schema, INSTANCES)


def test_disjoint_one_of_is_enforced_exactly(same_language: Check) -> None:
    schema = {"$defs": {"when": {"type": "string", "maxLength": 5}},
              "type": "object", "properties": {
                  "mode": {"oneOf": [{"const": 0}, {"const": 1}, {"const": 2.5}]},
                  "when": {"oneOf": [{"$ref": "#/$defs/when"}, {"type": "null"}]}},
              "required": ["mode", "when"]}
    assert "oneOf" not in json.dumps(rewrite(schema))
    same_language(schema, [
        {"mode": 0, "when": None}, {"mode": 1, "when": "today"}, {"mode": 2.5, "when": None},
        {"mode": 3, "when": None}, {"mode": 0, "when": "tomorrow"}, {"mode": 0, "when": 1}])


def test_a_value_no_other_branch_takes_makes_one_of_disjoint(same_language: Check) -> None:
    """An optional email written as `oneOf: [{"enum": [""]}, {"format": "email"}]`."""
    schema = {"type": "object", "properties": {"email": {"oneOf": [
        {"enum": [""]}, {"type": "string", "format": "email"}]}}}
    assert "oneOf" not in json.dumps(rewrite(schema))
    same_language(schema, [{"email": ""}, {"email": "a@b.co"}, {"email": "nope"}, {}])


AB = {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}
EXCLUSIVE = [{}, {"a": 1}, {"b": 1}, {"a": 1, "b": 1}, {"c": 1}, {"a": 1, "c": 1},
             {"b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1}, {"a": "x"}, "s", None]


@pytest.mark.parametrize("one_of", [
    [{"required": ["a"]}, {"required": ["b"]}],  # exactly one of a, b: exclusive parameters
    [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}],
    [{"required": ["a", "b"]}, {"required": ["c"]}],
    [{"anyOf": [{"required": ["a", "b"]}, {"required": ["a", "c"]}]},
     {"anyOf": [{"required": ["b", "c"]}]}],
    [{"required": ["a"]}, {"type": "object"}],  # objects without a; a alone never
])
def test_overlapping_one_of_with_negatable_branches(same_language: Check,
                                                    one_of: list[Any]) -> None:
    """Each branch that may overlap another is taken with that other's negation."""
    for schema in ({"properties": AB, "oneOf": one_of},
                   {"type": "object", "properties": AB, "oneOf": one_of}):
        assert "oneOf" not in json.dumps(rewrite(schema))
        same_language(schema, EXCLUSIVE)


def test_overlapping_objects_with_typed_properties(same_language: Check) -> None:
    """A reply that is an error or a result (CouchDB's), open objects: one with every key
    fits both, so is not valid; a key of the wrong type fails only one branch."""
    schema = {"oneOf": [
        {"properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
         "required": ["error", "reason"]},
        {"type": "object", "properties": {"id": {"type": "string"}, "ok": {"type": "boolean"},
                                          "rev": {"type": "string"}}, "required": ["id", "ok"]}]}
    assert "oneOf" not in json.dumps(rewrite(schema))
    same_language(schema, [  # keys in the order the grammar writes them: declared, then extra
        {"error": "e", "reason": "r"}, {"id": "1", "ok": True}, {"id": "1", "ok": True, "rev": 2},
        {"error": "e", "reason": "r", "id": "1", "ok": True},
        {"error": "e", "reason": "r", "ok": "yes", "id": "1"}, {"error": 1, "reason": "r"},
        {"id": "1", "ok": True, "error": 1, "reason": "r"}, {}, "s", None])


def test_overlapping_types(same_language: Check) -> None:
    schema = {"oneOf": [{"type": ["string", "null"]}, {"type": "string"}, {"type": "integer"}]}
    same_language(schema, [None, "s", 1, 1.5, [], {}])  # strings fit two: not one
    same_language({"oneOf": [{"type": "string"}, {"title": "anything"}]}, ["s", 1, None, {}])


def test_overlapping_one_of_is_still_refused(compiler: GrammarCompiler) -> None:
    for schema in ({"oneOf": [{"enum": ["linux"]}, {"type": "string"}]},
                   {"oneOf": [{"required": ["a"]}, {"properties": {"b": {"pattern": "^x"}},
                                                     "required": ["b"]}]}):
        assert "oneOf" in rewrite(schema)
        with pytest.raises(InvalidRequest, match="oneOf") as err:
            compiler.matcher(Constraint.json_schema(schema, "response_format"))
        assert err.value.param == "response_format"


@pytest.mark.parametrize(("a", "b", "expected"), [
    ({"type": "string"}, {"type": "null"}, True),
    ({"type": "integer"}, {"type": "number"}, False),
    ({"type": "integer"}, {"const": 1.5}, True),
    ({"type": "integer"}, {"const": 2.0}, False),  # 2.0 is an integer
    ({"const": 1}, {"const": True}, True),  # JSON Schema: true is not 1
    ({"enum": [{"k": 1}]}, {"enum": [{"k": 1.0}]}, False),
    ({"enum": ["a", "b"]}, {"enum": ["b", "c"]}, False),
    ({"enum": ["linux"]}, {"type": "string"}, False),
    ({"type": "object", "properties": {"k": {"const": "a"}}, "required": ["k"]},
     {"type": "object", "properties": {"k": {"const": "b"}}, "required": ["k"]}, True),
    # a discriminator says nothing of non-objects, which fit both
    ({"properties": {"k": {"const": "a"}}, "required": ["k"]},
     {"properties": {"k": {"const": "b"}}, "required": ["k"]}, False),
    ({"type": "object", "required": ["a"]}, {"type": "object", "required": ["b"]}, False),
    ({"type": "object", "required": ["a"]},
     {"type": "object", "properties": {"b": {}}, "additionalProperties": False}, True),
    ({"type": "object", "required": ["a"]},
     {"type": "object", "properties": {"a": {}}, "additionalProperties": False}, False),
    ({"type": "object", "required": ["a"]},
     {"type": "object", "properties": {"a": False}}, True),
    ({"type": "object", "required": ["a"]},
     {"type": "object", "properties": {"b": {}}, "patternProperties": {"^a": {}},
      "additionalProperties": False}, False),
    ({"allOf": [{"type": "string"}, {"maxLength": 2}]}, {"type": "array"}, True),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "null"}, True),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "number"}, False),
    ({"$ref": "#/$defs/s"}, {"type": "null"}, True),
    ({"$ref": "#/$defs/missing"}, {"type": "null"}, False),
    ({"$ref": "#"}, {"type": "null"}, False),  # the root fits anything: unknown
    (False, {"type": "null"}, True),
    # finite values checked one by one against the other branch, formats asserted
    ({"enum": [""]}, {"type": "string", "format": "email"}, True),
    ({"enum": ["", "a@b.co"]}, {"format": "email"}, False),
    ({"const": 5}, {"type": "integer", "minimum": 10}, True),
    ({"const": "ab"}, {"$ref": "#/$defs/s", "maxLength": 1}, False),  # the target alone: unsure
    ({"const": "x"}, {"$ref": "#/$defs/missing"}, False),
])
def test_disjoint(a: Any, b: Any, expected: bool) -> None:
    root = {"$defs": {"s": {"type": "string"}}}
    assert disjoint(a, b, root) is expected
    assert disjoint(b, a, root) is expected


def test_resolve_follows_json_pointers() -> None:
    root = {"$defs": {"a/b": {"x": [1, {"y": 2}]}}}
    assert resolve(root, "#/$defs/a~1b/x/1/y") == 2
    assert resolve(root, "#") is root
    assert resolve(root, "other.json#/x") is None and resolve(root, "#/nope") is None


def test_rewrite_leaves_data_alone() -> None:
    """`const`/`enum`/`default` are data: a `oneOf` key inside one is not a keyword."""
    schema = {"const": {"oneOf": [1, 2]}, "default": {"dependencies": {"a": ["b"]}}}
    assert rewrite(schema) == schema


def test_a_format_json_schema_does_not_define_is_an_annotation(same_language: Check,
                                                               compiler: GrammarCompiler) -> None:
    schema = {"type": "object", "properties": {"body": {"type": "string", "format": "html"},
                                               "when": {"type": "string", "format": "date"}}}
    assert rewrite(schema)["properties"]["body"] == {"type": "string"}
    same_language(schema, [{"body": "<p>", "when": "2026-12-04"}, {"when": "tomorrow"}])
    with pytest.raises(InvalidRequest, match="regex"):  # defined, and not enforced: refused
        compiler.matcher(Constraint.json_schema({"type": "string", "format": "regex"}, "x"))
