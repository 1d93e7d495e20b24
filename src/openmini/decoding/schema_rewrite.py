"""JSON Schema keywords llguidance does not implement, rewritten into ones it does, exactly.

A schema is enforced as written or refused (compiler.py); this module only widens what can be
enforced, and every rewrite accepts exactly the instances the original accepts:

- `dependencies` (drafts 4-7), `dependentRequired` and `dependentSchemas` (2019-09 on): "when
  `p` is present, so are `q`, `r`" / "so does the instance fit S" is `anyOf` of "`p` absent"
  (`properties: {p: false}`) and "`p` present and the rest holds", added to `allOf`.
- a `format` JSON Schema does not define (`"format": "text"`) is dropped: it is an
  annotation, which no validator checks; one it defines that llguidance lacks but whose
  syntax is regular (`uri-reference`, `iri`, JSON pointers) is the pattern of that syntax
  (schema_formats.py).
- `not`, `propertyNames` and `if`/`then`/`else` in forms with an exact equivalent
  (schema_negation.py).
- `oneOf` whose branches are provably pairwise disjoint is `anyOf`: no instance can fit two
  of them, so fitting one is fitting exactly one. llguidance proves disjointness by type and by
  a `const` discriminator; this proof also follows local `$ref`s and `allOf`, compares
  `const`/`enum` values, validates a branch's finite values against the other branch, and
  sees a property one branch requires and the other forbids. Branches that may overlap
  are each taken with the other's negation where it can be said (schema_negation.py
  `negation`: exclusive `required` keys, types); any other overlap (`[{"enum": ["linux"]},
  {"type": "string"}]`) stays, and is refused.

Both run on the schema as written, before the tool grammar closes its objects (tools/closing.py
`closed`), so a proof never leans on a restriction that validation does not make.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import combinations
from typing import Any

from openmini.decoding.schema_counts import without_counts
from openmini.decoding.schema_formats import without_format
from openmini.decoding.schema_negation import (
    TYPES,
    canon,
    expand_types,
    negation,
    without_conditional,
    without_not,
    without_property_names,
)

# Where JSON Schema keywords hold subschemas (everything else, const/enum/default included, is
# data and stays as written).
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_ONE = ("items", "additionalProperties", "additionalItems", "unevaluatedProperties",
              "unevaluatedItems", "contains", "propertyNames", "not", "if", "then", "else")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems", "items")

# The formats JSON Schema defines (2020-12 and earlier drafts). Any other `format` is an
# annotation only: validators ignore it (jsonschema's FormatChecker included), so it is
# dropped rather than refused; a defined one llguidance lacks is a pattern
# (schema_formats.py) or refused (`regex`).
FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
    "json-pointer", "relative-json-pointer", "regex", "host-name", "ip-address", "color",
    "utc-millisec", "style", "phone"})
_MAX_DEPTH = 16  # $ref chains and nesting followed by the disjointness proof
_MAX_VALUES = 256  # enum values the proof validates one by one against another branch


def map_subschemas(schema: dict[str, Any], fn: Callable[[str, Any], Any]) -> dict[str, Any]:
    """A copy of `schema` with `fn(keyword, subschema)` in place of each direct subschema."""
    out = dict(schema)
    for key in SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: fn(key, sub) for name, sub in out[key].items()}
    for key in SCHEMA_ONE:
        if isinstance(out.get(key), dict | bool):
            out[key] = fn(key, out[key])
    for key in SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [fn(key, sub) for sub in out[key]]
    if isinstance(out.get("dependencies"), dict):
        out["dependencies"] = {name: sub if isinstance(sub, list) else fn("dependencies", sub)
                               for name, sub in out["dependencies"].items()}
    return out


def rewrite(schema: Any) -> Any:
    """`schema` with the keywords of the module doc said in forms llguidance takes."""
    return _rewrite(schema, schema)


def _rewrite(schema: Any, root: Any, owner: dict[str, Any] | None = None) -> Any:
    """`owner`: the object schema whose `allOf` holds `schema` (the same instance fits it)."""
    if not isinstance(schema, dict):
        return schema
    out = map_subschemas(schema, lambda key, sub: _rewrite(
        sub, root, schema if key == "allOf" else None))
    if isinstance(out.get("format"), str) and out["format"] not in FORMATS:
        del out["format"]  # not a format JSON Schema defines: an annotation, checked by none
    out = without_format(out)
    out = without_conditional(out, out if owner is None or "properties" in out else owner)
    out = without_counts(without_not(without_property_names(out)))
    if not isinstance(out, dict):
        return out
    extra = _dependencies(out)
    if extra:
        out["allOf"] = [*out.get("allOf", []), *extra]
    one = out.get("oneOf")
    branches = _exactly_one(one, root) if isinstance(one, list) else None
    if branches is not None:
        del out["oneOf"]
        if "anyOf" in out:  # both: the instance fits one of each list
            out["allOf"] = [*out.get("allOf", []), {"anyOf": branches}]
        else:
            out["anyOf"] = branches
    return out


def _exactly_one(one: list[Any], root: Any) -> list[Any] | None:
    """`oneOf: one` as `anyOf` branches: each branch as written where it is disjoint from
    the others, else with the negation of each branch it may overlap (`A and not B`); None
    when such a negation has no form llguidance takes."""
    overlaps: dict[int, list[int]] = {i: [] for i in range(len(one))}
    for i, j in combinations(range(len(one)), 2):  # disjoint() is symmetric: each pair once
        if not disjoint(one[i], one[j], root):
            overlaps[i].append(j)
            overlaps[j].append(i)
    negations = {j: negation(one[j]) for j in {j for js in overlaps.values() for j in js}}
    if any(n is None for n in negations.values()):
        return None
    return [one[i] if not js else {"allOf": [one[i], *(negations[j] for j in js)]}
            for i, js in overlaps.items()]


def _dependencies(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The `allOf` entries that say what the dependency keywords say (and removes them)."""
    entries: list[dict[str, Any]] = []
    for key in ("dependencies", "dependentRequired", "dependentSchemas"):
        deps = schema.pop(key, None)
        if not isinstance(deps, dict):
            continue
        for name, then in deps.items():
            present: Any = ({"required": [name, *then]} if isinstance(then, list)
                            else {"allOf": [{"required": [name]}, then]})
            absent = {"properties": {name: False}}
            entries.append({"anyOf": [absent, present]})
    return entries


def disjoint(a: Any, b: Any, root: Any, depth: int = 0) -> bool:
    """True only if no instance fits both `a` and `b` (False: unknown or overlapping)."""
    if a is False or b is False:
        return True
    if not isinstance(a, dict) or not isinstance(b, dict) or depth > _MAX_DEPTH:
        return False
    for one, other in ((a, b), (b, a)):
        ref = one.get("$ref")
        if isinstance(ref, str):  # the target holds (draft 7: and nothing beside it counts)
            target = resolve(root, ref)
            return target is not None and disjoint(target, other, root, depth + 1)
    for one, other in ((a, b), (b, a)):
        if any(disjoint(sub, other, root, depth + 1) for sub in one.get("allOf", [])):
            return True
        branches = one.get("anyOf")
        if isinstance(branches, list) and branches and all(
                disjoint(sub, other, root, depth + 1) for sub in branches):
            return True
    common = _types(a) & _types(b)
    if not common:
        return True
    va, vb = _values(a), _values(b)
    if va is not None and vb is not None and not va & vb:
        return True
    if (va is not None and _none_fit(va, b, root)) or (vb is not None and _none_fit(vb, a, root)):
        return True
    return common <= {"object"} and _objects_disjoint(a, b, root, depth)


def _none_fit(values: set[str], schema: dict[str, Any], root: Any) -> bool:
    """No one of `values` (canonical JSON) fits `schema`, by jsonschema, formats asserted as
    the grammar enforces them (`{"enum": [""]}` against `{"format": "email"}`). False when
    that cannot be told (a ref the check cannot follow)."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for
    from referencing.exceptions import Unresolvable

    if len(values) > _MAX_VALUES:
        return False
    defs = {k: root[k] for k in ("$defs", "definitions") if isinstance(root, dict) and k in root}
    cls = validator_for(root if isinstance(root, dict) else {}, default=Draft202012Validator)
    validator = cls({**defs, **schema}, format_checker=cls.FORMAT_CHECKER)
    try:
        return not any(validator.is_valid(json.loads(value)) for value in values)
    except (Unresolvable, RecursionError):  # jsonschema's ref errors are Unresolvable too
        return False


def _objects_disjoint(a: dict[str, Any], b: dict[str, Any], root: Any, depth: int) -> bool:
    """For objects only: a property both require with disjoint schemas (a discriminator), or
    one that one requires and the other forbids."""
    for one, other in ((a, b), (b, a)):
        for name in one.get("required", []):
            if not isinstance(name, str):
                continue
            if name in other.get("required", []) and disjoint(
                    _property(one, name), _property(other, name), root, depth + 1):
                return True
            if _forbids(other, name):
                return True
    return False


def _property(schema: dict[str, Any], name: str) -> Any:
    props = schema.get("properties")
    return props.get(name, True) if isinstance(props, dict) else True


def _forbids(schema: dict[str, Any], name: str) -> bool:
    found = schema.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    if name in props:
        return props[name] is False
    return schema.get("additionalProperties") is False and not schema.get("patternProperties")


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types an instance of `schema` can have (all of them when unsaid)."""
    types = set(TYPES)
    declared = schema.get("type")
    if isinstance(declared, str | list):
        types &= expand_types({declared} if isinstance(declared, str) else set(declared))
    values = _values(schema)
    if values is not None:  # an integral value fits `number` too
        kinds = {_type_of(json.loads(v)) for v in values}
        types &= kinds | ({"number"} if "integer" in kinds else set())
    return types


def _values(schema: dict[str, Any]) -> set[str] | None:
    """`const`/`enum` as canonical JSON (1 and 1.0 alike, true and 1 not), None when unsaid."""
    options: list[Any] | None = None
    if "enum" in schema and isinstance(schema["enum"], list):
        options = schema["enum"]
    if "const" in schema:
        options = [schema["const"]] if options is None else [
            v for v in options if canon(v) == canon(schema["const"])]
    return None if options is None else {canon(v) for v in options}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names[type(value)]


def resolve(root: Any, ref: str) -> Any:
    """A local `$ref` (`#`, `#/$defs/x`, JSON pointer escapes) in `root`, or None."""
    if not ref.startswith("#"):
        return None
    node = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
