"""minProperties / maxProperties on closed objects said as keys (decoding/schema_counts.py):
each rewritten schema takes exactly the instances jsonschema says fit it as written."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint
from openmini.decoding.schema_counts import MAX_BRANCHES, without_counts
from openmini.errors import InvalidRequest

Check = Callable[[Any, list[Any]], None]
KEYS = ("a", "b", "c", "d")


def _closed(**bounds: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {k: {"type": "integer"} for k in KEYS},
            "required": ["a"], "additionalProperties": False, **bounds}


def _every_subset() -> list[Any]:
    subsets = [dict.fromkeys(c, 1) for n in range(len(KEYS) + 1) for c in combinations(KEYS, n)]
    return [*subsets, {"a": 1, "e": 1}, {"a": "x", "b": 1}, "not an object"]


@pytest.mark.parametrize("bounds", [
    {"minProperties": 1}, {"minProperties": 2}, {"minProperties": 3}, {"minProperties": 4},
    {"maxProperties": 1}, {"maxProperties": 2}, {"maxProperties": 4},
    {"minProperties": 2, "maxProperties": 3}, {"minProperties": 3, "maxProperties": 2},
    {"minProperties": 5}, {"maxProperties": 0}])
def test_bounds_take_exactly_the_counted_objects(same_language: Check,
                                                 bounds: dict[str, Any]) -> None:
    """Under a property, so that bounds no object meets (`false`) still compile."""
    same_language({"type": "object", "properties": {"x": _closed(**bounds)}},
                  [{}, *({"x": value} for value in _every_subset())])


def test_at_least_one_field_of_an_update(same_language: Check) -> None:
    update = {"type": "object", "additionalProperties": False, "minProperties": 1,
              "properties": {"name": {"type": "string"}, "email": {"type": "string"},
                             "phone": {"type": "string"}}}
    same_language(update, [{}, {"name": "x"}, {"email": "e", "phone": "p"}, {"zip": "1"}])
    assert len(without_counts(update)["allOf"][0]["anyOf"]) == 3


def test_without_a_type_other_values_pass(same_language: Check) -> None:
    """The bounds apply to objects only: untyped, a string or a list fits them (and no
    object fits min 3 of 2 keys, so then only the other types do)."""
    for low in (1, 3):
        schema = {"additionalProperties": False, "minProperties": low,
                  "properties": {"a": {}, "b": {}}}
        same_language({"type": "object", "properties": {"x": schema}},
                      [{"x": v} for v in ({}, {"a": 1}, {"a": 1, "b": 2}, "s", [1], None)])


def test_open_or_too_many_branches_stay_refused(compiler: GrammarCompiler) -> None:
    open_object = {"type": "object", "properties": {"a": {}, "b": {}}, "minProperties": 1}
    assert without_counts(open_object) == open_object  # other keys count too: unknown
    wide = {"type": "object", "additionalProperties": False, "minProperties": 6,
            "properties": {f"k{i}": {} for i in range(12)}}  # C(12, 6) = 924 branches
    assert MAX_BRANCHES < 924 and without_counts(wide) == wide
    with pytest.raises(InvalidRequest, match="min/maxProperties"):
        compiler.matcher(Constraint.json_schema(wide, "response_format"))
