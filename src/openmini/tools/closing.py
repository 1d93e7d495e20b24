"""Closing a tool's objects: a call's arguments are the function's declared parameters.

Without it small models put a second call's values into extra keys of the first
(`"duration2": 15`), so the call grammar (not validation, which uses the schema as written)
gives `additionalProperties: false` to each object that says nothing of other keys, as
XGrammar's strict mode does.

The keys an object declares are those of its whole in-place group: the schema at the
instance's position and every schema that applies to the same instance through `allOf`,
`anyOf`, `oneOf`, `then`/`else`, `dependentSchemas` and `$ref` (followed, cycles cut). That is
what `unevaluatedProperties: false` would see. Only the group's top is closed, with the keys
its members declare added to its `properties` as `true` (each member still constrains its
own); the members stay open, since closing one would reject the keys its siblings add (a base
model's `$ref` beside the subclass's own properties, a kind field beside the branches it
selects). A group where some member takes other keys anyway (`additionalProperties` other
than false, `patternProperties`, `unevaluatedProperties`) stays open as written.
"""

from __future__ import annotations

from typing import Any

from openmini.decoding.schema_counts import without_counts
from openmini.decoding.schema_rewrite import map_subschemas, resolve

# Keywords whose subschemas apply to the same instance as their parent (members of its
# group); `not` and `if` apply to it too but declare nothing the instance may have.
IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "then", "else", "dependentSchemas", "not",
                      "if", "$defs", "definitions"})  # definitions: reached through `$ref`
DEFS = ("$defs", "definitions")
_MEMBER_LISTS = ("allOf", "anyOf", "oneOf")
_OPENING = ("patternProperties", "unevaluatedProperties")
_NEGATED = ("not", "if")  # closing anything under these would widen what the schema takes
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default"})


def closed(schema: Any) -> Any:
    """`schema` with each object group that declares properties, and says nothing of other
    keys, closed to the keys it declares (see the module doc).

    A position that is only a `$ref` is not closed beside the ref (llguidance refuses
    siblings on a recursive ref): the definition is closed itself instead, when every ref to
    it is such a position; one also used in place stays open there."""
    if not isinstance(schema, dict):
        return schema
    shared: set[str] = set()
    _refs_in_place(schema, shared, top=True)
    body = {k: v for k, v in schema.items() if k not in DEFS or not isinstance(v, dict)}
    out = _closed(body, schema, top="#" not in shared)  # the definitions once, below
    for key in DEFS:
        if isinstance(schema.get(key), dict):
            out[key] = {name: _closed(sub, schema, top=f"#/{key}/{name}" not in shared)
                        for name, sub in schema[key].items()}
    return out


def _closed(schema: Any, root: Any, *, top: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out = map_subschemas(schema, lambda key, sub: sub if key in _NEGATED else _closed(
        sub, root, top=key not in IN_PLACE))
    if not top or "additionalProperties" in schema or _only_ref(schema):
        return out
    declared = _declared(schema, root)
    if declared is not None:
        own = dict(out.get("properties") or {})
        out["properties"] = {**own, **{k: True for k in sorted(declared) if k not in own}}
        out["additionalProperties"] = False
        return without_counts(out)  # its keys now known: minProperties said as keys
    return out


def _refs_in_place(schema: Any, found: set[str], *, top: bool, negated: bool = False) -> None:
    """Adds to `found` each `$ref` used other than as a whole position of its own (in place
    beside other keywords, or under `not`/`if`)."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and (negated or not (top and _only_ref(schema))):
        found.add(ref)
    map_subschemas(schema, lambda key, sub: _refs_in_place(
        sub, found, top=key in DEFS or key not in IN_PLACE, negated=negated or key in _NEGATED))


def _only_ref(schema: dict[str, Any]) -> bool:
    """`schema` is a `$ref` and nothing else (annotations and definitions aside)."""
    return "$ref" in schema and set(schema) - _ANNOTATIONS - set(DEFS) == {"$ref"}


def _declared(schema: dict[str, Any], root: Any) -> set[str] | None:
    """The keys the group of `schema` declares; None when no member has `properties` (an
    empty one counts: a function without parameters takes `{}` only) or some member takes
    other keys."""
    group = _group(schema, root)
    if any(any(m.get(key) for key in _OPENING) for m in group) or any(
            m.get("additionalProperties", False) is not False for m in group[1:]):
        return None
    if not any("properties" in m for m in group):
        return None
    return {k for m in group if isinstance(m.get("properties"), dict) for k in m["properties"]}


def _group(schema: dict[str, Any], root: Any) -> list[dict[str, Any]]:
    """`schema` first, then each schema that applies to the same instance in place."""
    group: list[dict[str, Any]] = []
    todo: list[Any] = [schema]
    seen: set[str] = set()
    while todo:
        member = todo.pop(0)
        if not isinstance(member, dict) or any(member is m for m in group):
            continue
        group.append(member)
        todo += [sub for key in _MEMBER_LISTS for sub in member.get(key) or []]
        todo += [member.get("then"), member.get("else")]
        deps = member.get("dependentSchemas")
        todo += list(deps.values()) if isinstance(deps, dict) else []
        ref = member.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            todo.append(resolve(root, ref))
    return group
