"""Closing a tool's objects (tools/closing.py): extra keys are shut out of the call grammar,
and every key the schema lets an instance have, through any in-place member, stays open."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint
from openmini.decoding.schema_rewrite import rewrite
from openmini.tools.closing import closed

BASE = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
COMPOSED = {  # schema, an instance that fits it
    "base model + own keys": ({"$defs": {"Base": BASE}, "allOf": [
        {"$ref": "#/$defs/Base"},
        {"properties": {"extra": {"type": "string"}}, "required": ["extra"]}]},
        {"id": 1, "extra": "x"}),
    "kind beside its branches": ({"type": "object", "properties": {"kind": {"enum": ["a", "b"]}},
                                  "required": ["kind"], "anyOf": [
        {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}, {"kind": "a", "a": 1}),
    "dependentSchemas": ({"type": "object", "properties": {"x": {"type": "integer"}},
                          "dependentSchemas": {"x": {"properties": {"y": {"type": "integer"}},
                                                     "required": ["y"]}}}, {"x": 1, "y": 2}),
    "if/then": ({"type": "object", "properties": {"t": {"enum": ["a", "b"]}},
                 "if": {"properties": {"t": {"const": "a"}}},
                 "then": {"properties": {"p": {"type": "string"}}, "required": ["p"]}},
                {"t": "a", "p": "s"}),
    "recursive ref": ({"$ref": "#/$defs/Node", "$defs": {"Node": {
        "type": "object", "properties": {"id": {"type": "integer"},
                                         "child": {"$ref": "#/$defs/Node"}}}}},
        {"id": 1, "child": {"id": 2, "child": {}}}),
    "no parameters": ({"type": "object", "properties": {}}, {}),
}


def _takes(compiler: GrammarCompiler, tokenizer: Any, schema: Any, instance: Any) -> bool:
    matcher = compiler.matcher(Constraint.json_schema(schema, "tools"))
    tokens = tokenizer.tokenize_str(json.dumps(instance), parse_special=False)
    return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())


@pytest.mark.parametrize("name", COMPOSED)
def test_composed_objects_take_their_keys_and_no_others(
        compiler: GrammarCompiler, tokenizer: Any, name: str) -> None:
    schema, instance = COMPOSED[name]
    jsonschema.validate(instance, schema)
    grammar = closed(rewrite(schema))
    assert _takes(compiler, tokenizer, grammar, instance)
    assert not _takes(compiler, tokenizer, grammar, {**instance, "zzz": 1})


def test_nested_positions_are_closed_too(compiler: GrammarCompiler, tokenizer: Any) -> None:
    schema = COMPOSED["recursive ref"][0]
    grammar = closed(schema)
    assert grammar["$defs"]["Node"]["additionalProperties"] is False  # only ever a whole ref
    assert "additionalProperties" not in grammar  # not beside the ref (llguidance refuses it)
    assert not _takes(compiler, tokenizer, grammar, {"id": 1, "child": {"zz": 1}})


def test_a_definition_used_in_place_stays_open() -> None:
    schema = {"$defs": {"Base": BASE}, "type": "object", "properties": {
        "plain": {"$ref": "#/$defs/Base"},
        "more": {"allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"n": {}}}]}}}
    out = closed(schema)
    assert "additionalProperties" not in out["$defs"]["Base"]  # "more" adds to it
    assert out["properties"]["more"]["additionalProperties"] is False
    assert set(out["properties"]["more"]["properties"]) == {"id", "n"}


@pytest.mark.parametrize("member", [
    {"additionalProperties": True}, {"additionalProperties": {"type": "integer"}},
    {"patternProperties": {"^x_": {}}}])
def test_a_member_that_takes_other_keys_leaves_the_group_open(member: dict[str, Any]) -> None:
    schema = {"type": "object", "properties": {"a": {}}, "allOf": [member]}
    assert "additionalProperties" not in closed(schema)


def test_closed_walks_subschemas_only() -> None:
    schema = {"type": "object", "properties": {
        "properties": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "tags": {"type": "array", "items": {"properties": {"k": {}}}},
        "mode": {"const": {"properties": {}}, "default": {"properties": 1}},
        "open": {"type": "object", "properties": {"y": {}}, "additionalProperties": True},
        "both": {"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}},
        "not": {"properties": {"p": {"type": "object", "properties": {"q": {}}}}}}
    out = closed(schema)
    props = out["properties"]
    assert out["additionalProperties"] is False
    assert set(props) == {"properties", "tags", "mode", "open", "both"}  # names untouched
    assert props["properties"]["additionalProperties"] is False
    assert props["tags"]["items"]["additionalProperties"] is False
    assert props["mode"] == schema["properties"]["mode"]  # data, not schema: as written
    assert props["open"]["additionalProperties"] is True
    assert all("additionalProperties" not in b for b in props["both"]["allOf"])
    assert props["both"]["additionalProperties"] is False  # closed above its members
    assert set(props["both"]["properties"]) == {"a", "b"}
    assert out["not"] == schema["not"]  # closing under `not` would widen what it takes
    assert "additionalProperties" not in schema  # the input is not modified


def test_a_count_bound_holds_once_the_keys_are_known(compiler: GrammarCompiler,
                                                     tokenizer: Any) -> None:
    """"At least one field" on an update tool: open as written, so llguidance cannot count
    its keys (a 400 before); closed, the bound is said as which keys are present."""
    update = {"type": "object", "minProperties": 1, "properties": {
        "name": {"type": "string"}, "email": {"type": "string"}}}
    grammar = closed(rewrite(update))
    assert _takes(compiler, tokenizer, grammar, {"email": "a@b.c"})
    assert not _takes(compiler, tokenizer, grammar, {})
    assert not _takes(compiler, tokenizer, grammar, {"zzz": 1})


def test_exclusive_parameters(compiler: GrammarCompiler, tokenizer: Any) -> None:
    """"Exactly one of `id`, `email`" (`oneOf` of `required`), a common tool shape: it was
    refused (a `oneOf` whose branches overlap); each branch now excludes the other's key."""
    lookup = {"type": "object", "properties": {"id": {"type": "integer"},
                                               "email": {"type": "string"}},
              "oneOf": [{"required": ["id"]}, {"required": ["email"]}]}
    grammar = closed(rewrite(lookup))
    assert _takes(compiler, tokenizer, grammar, {"id": 7})
    assert _takes(compiler, tokenizer, grammar, {"email": "a@b.c"})
    for wrong in ({}, {"id": 7, "email": "a@b.c"}, {"id": 7, "zzz": 1}):
        assert not _takes(compiler, tokenizer, grammar, wrong)
