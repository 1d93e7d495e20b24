"""`not`, `propertyNames`, `if` in the forms that have an exact equivalent llguidance enforces.

llguidance implements none of these keywords. Some of their common forms say nothing a schema
cannot say otherwise, and those are rewritten (schema_rewrite.py calls these after it has
rewritten the subschemas); any other form stays, and the schema is refused naming it:

- `not: {}` / `not: true`: nothing fits (the schema is `false`); `not: false`: dropped.
- `not: {"type": T}`: the other types (`not: {"type": "object"}` is every type but object).
  `not: {"type": "integer"}` has no type-only equivalent (non-integral numbers) and stays.
- `propertyNames` `{"pattern": P}` (anchored) on a map whose `patternProperties` is P alone
  (and no `properties`): `additionalProperties` becomes `false` (a key that matches no
  pattern fails the names).
- `propertyNames` where the object has no `patternProperties`:
  - `{"enum": K}` / `{"const": k}`: the keys are those of K: `properties` outside K are
    forbidden (`false`), names of K not declared get the `additionalProperties` schema, and
    `additionalProperties` becomes `false`;
  - `{"not": {"enum": K}}` / `{"not": {"const": k}}`: each name of K is forbidden;
  - `{"pattern": "^...$"}` (anchored, no `|`) on an object without `properties`: the keys
    are those that match, with the `additionalProperties` schema (`patternProperties`).
- `if`/`then`/`else` where `if` tests one property against values (`{"properties": {"kind":
  {"const": "a"}}}`, `enum` too, `required` or not) and the object gives that property
  finitely many values (an `enum`, a `const`, `type: boolean`; on the object itself or on
  the one whose `allOf` holds the conditional): `anyOf: [if and then, (if fails) and else]`,
  where "if fails" names the property's other values. That is the common form (a kind field
  that decides what else is required).
- `if`/`then`/`else` where `if` has a `negation` (below): `required` alone ("when `x` is
  given, so is `y`"), `type` alone, or `anyOf`/`allOf` of those: `anyOf: [if and then,
  not-if and else]`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default",
                          "deprecated", "readOnly", "writeOnly", "$id", "$schema"})
TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
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
    others = set(TYPES) - expand_types(named)
    declared = rest.get("type")
    if declared is not None:
        others &= expand_types({declared} if isinstance(declared, str) else set(declared))
    return {**rest, "type": [t for t in TYPES if t in others]} if others else False


def negation(schema: Any) -> Any:
    """A schema that takes exactly the instances `schema` does not, where one can be said
    in keywords llguidance has; None otherwise. The forms: `true`/`false`; `type` alone (the
    other types); an object of `required` names ("exactly one of `a`, `b`" is
    `oneOf: [{"required": ["a"]}, {"required": ["b"]}]`) and `properties` whose schemas
    have negations; `not`; `anyOf`/`allOf` of such forms (De Morgan)."""
    if isinstance(schema, bool):
        return not schema
    if not isinstance(schema, dict):
        return None
    keys = set(schema) - _ANNOTATIONS
    if not keys:  # takes everything
        return False
    if keys == {"not"}:
        return schema["not"]
    if keys == {"type"}:
        others = without_not({"not": schema})
        return None if isinstance(others, dict) and "not" in others else others
    if keys <= {"type", "properties", "required"} and keys != {"type"}:
        return _object_negation(schema)
    for key, dual in (("anyOf", "allOf"), ("allOf", "anyOf")):
        if keys == {key} and isinstance(schema[key], list):
            parts = [negation(sub) for sub in schema[key]]
            return None if any(p is None for p in parts) else {dual: parts}
    return None


def _object_negation(schema: dict[str, Any]) -> Any:
    """`not` of `{"type": "object", "properties": P, "required": R}` (type optional): not
    an object (when typed), or an object missing a name of R or with a property of P whose
    value fits that property's negation."""
    kind, props, names = schema.get("type"), schema.get("properties", {}), schema.get(
        "required", [])
    if kind not in (None, "object", ["object"]) or not isinstance(props, dict) or not (
            isinstance(names, list)):
        return None
    fails: list[Any] = [{"properties": {n: False}} for n in names]
    for name, sub in props.items():
        negated = negation(sub)  # False for `{}`/`true`: nothing fails there
        if negated is None:
            return None
        if negated is not False:
            fails.append({"properties": {name: negated}, "required": [name]})
    either: list[Any] = [{"type": "object", "anyOf": fails}] if fails else []
    if kind is not None:
        either.append({"type": [t for t in TYPES if t != "object"]})
    return {"anyOf": either} if either else False


def expand_types(types: set[str]) -> set[str]:
    """`types` with `integer` where `number` is there (a number type covers integers)."""
    return types | {"integer"} if "number" in types else types


def without_property_names(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a `propertyNames` of a form above said without it."""
    names = schema.get("propertyNames")
    if names is None:
        return schema
    rest = {k: v for k, v in schema.items() if k != "propertyNames"}
    if schema.get("patternProperties"):
        return _names_as_patterns(schema, rest, names)
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
    pattern = _name_pattern(names)
    if pattern is not None and not props:
        return {**rest, "patternProperties": {pattern: extra}, "additionalProperties": False}
    return schema


def _names_as_patterns(schema: dict[str, Any], rest: dict[str, Any], names: Any) -> Any:
    """A map whose keys are named by the pattern its `patternProperties` also has alone
    (`{"patternProperties": {P: S}, "propertyNames": {"pattern": P}}`, P anchored): a key
    that matches no pattern fails `propertyNames`, so `additionalProperties` is `false`."""
    pattern = _name_pattern(names)
    if pattern is None or schema.get("properties") or set(schema["patternProperties"]) != {
            pattern}:
        return schema
    return {**rest, "additionalProperties": False}


def _name_pattern(names: Any) -> str | None:
    """The anchored pattern of a `{"pattern": "^...$"}` (`type: string` allowed) schema."""
    string_pattern = _only(names, "pattern") or (
        _only(names, "pattern", "type") and names["type"] == "string")
    pattern = names["pattern"] if string_pattern else None
    return pattern if isinstance(pattern, str) and _ANCHORED.fullmatch(pattern) else None


def _names(schema: Any) -> set[str] | None:
    """The strings of an `enum` / `const`-only schema (None otherwise)."""
    if _only(schema, "enum") and isinstance(schema["enum"], list):
        values = schema["enum"]
    elif _only(schema, "const"):
        values = [schema["const"]]
    else:
        return None
    return {v for v in values if isinstance(v, str)}


def without_conditional(schema: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `if`/`then`/`else` said as `anyOf` (see the module doc), where `if`
    tests one property against values (`const`/`enum`) and `owner` (the object schema the
    instance fits too: `schema` itself, or the one whose `allOf` holds it) gives that
    property a finite set of values (an `enum`, a `const`, or `type: boolean`)."""
    test = schema.get("if")
    if test is None:
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    then, other = schema.get("then", True), schema.get("else", True)
    if then is True and other is True:
        return rest
    found = _tested(test)
    domain = _domain(owner, found[0]) if found is not None else None
    if found is None or domain is None or not _is_object(owner):
        negated = negation(test)  # or an `if` that can be negated itself: `{"required": [p]}`
        if negated is None:
            return schema
        either = [{"allOf": [test, then]}, {"allOf": [negated, other]}]
        return {**rest, "allOf": [*rest.get("allOf", []), {"anyOf": either}]}
    name, values, required = found
    outside = [v for v in domain if canon(v) not in {canon(x) for x in values}]
    absent = {"properties": {name: False}}
    other_values = {"properties": {name: {"enum": outside}}}
    if required:  # `if` fails: the property is absent, or has another value (which
        fails: list[Any] = [other_values if outside else absent]  # holds when it is absent)
    else:  # `if` fails: the property is there, with another value
        fails = [{**other_values, "required": [name]}] if outside else []
    branches: list[Any] = [{"allOf": [test, then]}]
    branches += [{"allOf": [{"anyOf": fails}, other]}] if fails else []
    return {**rest, "allOf": [*rest.get("allOf", []), {"anyOf": branches}]}


def _tested(test: Any) -> tuple[str, list[Any], bool] | None:
    """(property, its values, required) for `{"properties": {p: {"const"|"enum": ...}}}`
    with, optionally, `"required": [p]` and `"type": "object"`."""
    if not isinstance(test, dict) or set(test) - _ANNOTATIONS - {"required", "type"} != {
            "properties"} or test.get("type", "object") != "object":
        return None
    props = test["properties"]
    if not isinstance(props, dict) or len(props) != 1:
        return None
    [(name, value)] = props.items()
    required = test.get("required", [])
    if required not in ([], [name]):
        return None
    if _only(value, "const"):
        return name, [value["const"]], bool(required)
    if _only(value, "enum") and isinstance(value["enum"], list):
        return name, list(value["enum"]), bool(required)
    return None


def _domain(owner: dict[str, Any], name: str) -> list[Any] | None:
    """The values `owner` allows property `name`, when they are finitely many."""
    props = owner.get("properties")
    value = props.get(name) if isinstance(props, dict) else None
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("enum"), list):
        return list(value["enum"])
    if "const" in value:
        return [value["const"]]
    return [True, False] if value.get("type") == "boolean" else None


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or schema.get("type") == ["object"]


def canon(value: Any) -> str:
    return json.dumps(integral(value), sort_keys=True, separators=(",", ":"))


def integral(value: Any) -> Any:
    """`value` with every integral float an int, at any depth (JSON Schema: 1 == 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral(v) for v in value]
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    return value
