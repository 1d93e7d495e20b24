"""`not` and `propertyNames` in the forms that have an exact equivalent llguidance enforces.

llguidance implements neither keyword. Some of their common forms say nothing a schema
cannot say otherwise, and those are rewritten (schema_rewrite.py calls these after it has
rewritten the subschemas); any other form stays, and the schema is refused naming it:

- `not: {}` / `not: true`: nothing fits (the schema is `false`); `not: false`: dropped.
- `not: {"type": T}`: the other types (`not: {"type": "object"}` is every type but object).
  `not: {"type": "integer"}` has no type-only equivalent (non-integral numbers) and stays.
- `propertyNames` where the object has no `patternProperties`:
  - `{"enum": K}` / `{"const": k}`: the keys are those of K: `properties` outside K are
    forbidden (`false`), names of K not declared get the `additionalProperties` schema, and
    `additionalProperties` becomes `false`;
  - `{"not": {"enum": K}}` / `{"not": {"const": k}}`: each name of K is forbidden;
  - `{"pattern": "^...$"}` (anchored, no `|`) on an object without `properties`: the keys
    are those that match, with the `additionalProperties` schema (`patternProperties`).
"""

from __future__ import annotations

import re
from typing import Any

_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default",
                          "deprecated", "readOnly", "writeOnly", "$id", "$schema"})
_TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
_ANCHORED = re.compile(r"\^[^|]*\$")


def _only(schema: Any, *keys: str) -> bool:
    """`schema` is an object whose keywords, annotations aside, are exactly `keys`."""
    return isinstance(schema, dict) and set(schema) - _ANNOTATIONS == set(keys)


def without_not(schema: dict[str, Any]) -> Any:
    """`schema` with a `not` of a form above said without it (False: nothing fits)."""
    negated = schema.get("not")
    if negated is None:
        return schema
    rest = {k: v for k, v in schema.items() if k != "not"}
    if negated is True or _only(negated):
        return False
    if negated is False:
        return rest
    if not _only(negated, "type"):
        return schema
    named = negated["type"]
    named = {named} if isinstance(named, str) else set(named)
    if "integer" in named and "number" not in named:
        return schema
    others = set(_TYPES) - _expand(named)
    declared = rest.get("type")
    if declared is not None:
        others &= _expand({declared} if isinstance(declared, str) else set(declared))
    return {**rest, "type": [t for t in _TYPES if t in others]} if others else False


def _expand(types: set[str]) -> set[str]:
    """`types` with `integer` where `number` is there (a number type covers integers)."""
    return types | {"integer"} if "number" in types else types


def without_property_names(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a `propertyNames` of a form above said without it."""
    names = schema.get("propertyNames")
    if names is None or schema.get("patternProperties"):
        return schema
    rest = {k: v for k, v in schema.items() if k != "propertyNames"}
    props = dict(rest.get("properties") or {})
    if names is True or _only(names):
        return rest
    extra = rest.get("additionalProperties", True)
    allowed = _names(names)
    if allowed is not None:
        props = {k: (v if k in allowed else False) for k, v in props.items()}
        props.update({k: extra for k in sorted(allowed) if k not in props})
        return {**rest, "properties": props, "additionalProperties": False}
    if _only(names, "not") and (banned := _names(names["not"])) is not None:
        return {**rest, "properties": {**props, **{k: False for k in sorted(banned)}}}
    string_pattern = _only(names, "pattern") or (
        _only(names, "pattern", "type") and names["type"] == "string")
    pattern = names["pattern"] if string_pattern else None
    if isinstance(pattern, str) and _ANCHORED.fullmatch(pattern) and not props:
        return {**rest, "patternProperties": {pattern: extra}, "additionalProperties": False}
    return schema


def _names(schema: Any) -> set[str] | None:
    """The strings of an `enum` / `const`-only schema (None otherwise)."""
    if _only(schema, "enum") and isinstance(schema["enum"], list):
        values = schema["enum"]
    elif _only(schema, "const"):
        values = [schema["const"]]
    else:
        return None
    return {v for v in values if isinstance(v, str)}
