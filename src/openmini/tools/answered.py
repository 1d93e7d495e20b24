"""Calls already answered are not made again in `auto`: the grammar leaves them out.

A small model handed a tool result often calls the same function with the same arguments
again instead of answering from it (`fast`: `get_weather {"city": "Oslo"}` after its result,
every time at temperature 1), and an agent loop then never ends. In `tool_choice: "auto"` the
call grammar therefore takes, for each function, only arguments that differ from every call of
that function already answered: `answered` finds them, `excluding` turns a function's
arguments schema into one that takes exactly the instances of the schema that differ from each
of them. A function whose every possible call was made (`get_time` with no parameters, once)
cannot be called again; when no call is left, the answer is text. A client can still force
the same call with a named `tool_choice` (or `required`), which is left as it is.

Which calls: every call of the current turn (since the last user message), and the calls of
the conversation's last batch (the last assistant message that made any) whatever turn it was
in. Not every call of the conversation: a tool with state rightly makes the same call again
once another call may have changed what it returns (BFCL's file system: `ls()`, then `cd`,
then `ls()` again in a later turn). Nothing has come between the last batch and now, so its
results still hold ("What's the tracking number?" right after an order lookup is answered
from it, not looked up again), and within a turn a call is the agent's own loop.

"Differs" is said in keywords llguidance enforces, by the instance's shape:
- an object (closed, as the call grammar closes them): some answered key has another value,
  or an optional answered key is left out, or a declared key the answered call left out is
  given (an `anyOf` of those);
- a string: `pattern` of the strings other than it (a proper prefix, a different character
  somewhere, or more characters), beside the schema's own pattern through `allOf`, and not
  empty nor with spaces at either end (TRIMMED: the slip past an excluded call);
- an integer or number: below it or above it (`exclusiveMaximum` / `exclusiveMinimum`);
- a boolean: the other one; `enum` / `const`: the other values; an array: another length or
  another item at some position (`prefixItems`); a value of another declared type differs.
Where a difference cannot be said (a `$ref`, `anyOf` or other composition in the way, a string
holding `"` or `\\`, whose escaped form llguidance's patterns do not see as written, or one
longer than MAX_STRING), that call is not excluded: the schema stays as it was, never
narrower than the client's schema allows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from openmini.decoding.schema_negation import integral
from openmini.types import ChatMessage

MAX_STRING = 64  # longer strings are not excluded: the pattern nests groups per character,
# and llguidance's regex parser takes at most 250 levels (it fails from 84 characters on; a
# 213-character value made the next request a 400)
MAX_ITEMS = 16  # nor arrays longer than this
MAX_BRANCHES = 64  # an arguments schema grows no wider than this many anyOf branches

Call = tuple[str, str]  # (function name, canonical JSON arguments)


def canonical(arguments: Any) -> str:
    """One spelling of a JSON value: keys sorted, no spaces, integral numbers as integers."""
    return json.dumps(integral(arguments), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def this_turn(messages: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    """The messages after the last user message (all of them where there is none)."""
    start = max((i + 1 for i, m in enumerate(messages) if m.role == "user"), default=0)
    return messages[start:]


def answered(messages: Sequence[ChatMessage]) -> tuple[Call, ...]:
    """The calls of the current turn and of the last batch that a tool message answers, most
    recent first, each once. Arguments that are not a JSON object are left out (nothing to
    match)."""
    start = len(messages) - len(this_turn(messages))
    made = [i for i, m in enumerate(messages) if m.tool_calls]
    batches = [i for i in made if i >= start] or made[-1:]
    replied = {m.tool_call_id for m in messages if m.role == "tool"}
    calls: dict[Call, None] = {}
    for i in reversed(batches):
        for call in reversed(messages[i].tool_calls):
            try:
                arguments = json.loads(call.arguments or "{}")
            except json.JSONDecodeError:
                continue
            if call.id in replied and isinstance(arguments, dict):
                calls.setdefault((call.name, canonical(arguments)), None)
    return tuple(calls)


def excluding(schema: Any, calls: Sequence[str]) -> Any:
    """`schema` (a function's arguments, closed) taking only objects that differ from each of
    `calls` (canonical JSON); False when none is left. A call whose difference cannot be
    said, or that would widen the schema past MAX_BRANCHES, is skipped."""
    for call in calls:
        narrowed = _each_branch(schema, json.loads(call))
        if narrowed is None or _width(narrowed) > MAX_BRANCHES:
            continue
        schema = narrowed
        if schema is False:
            break
    return schema


def _each_branch(schema: Any, value: Any) -> Any:
    """`differing` over each branch of an anyOf this module built (flattened)."""
    if isinstance(schema, dict) and set(schema) == {"anyOf"}:
        parts = [_each_branch(branch, value) for branch in schema["anyOf"]]
        if any(part is None for part in parts):
            return None
        return _any([b for part in parts for b in _branches(part)])
    return differing(schema, value)


def _branches(schema: Any) -> list[Any]:
    if schema is False:
        return []
    if isinstance(schema, dict) and set(schema) == {"anyOf"}:
        return list(schema["anyOf"])
    return [schema]


def _any(branches: list[Any]) -> Any:
    return False if not branches else branches[0] if len(branches) == 1 else {"anyOf": branches}


def _width(schema: Any) -> int:
    return len(_branches(schema))


_COMPOSED = frozenset({"$ref", "anyOf", "oneOf", "allOf", "not", "if", "then", "else",
                       "dependentSchemas", "dependentRequired", "patternProperties",
                       "propertyNames", "unevaluatedProperties", "contains", "uniqueItems",
                       "prefixItems", "multipleOf"})


def differing(schema: Any, value: Any) -> Any:
    """A schema taking exactly the instances of `schema` other than `value`; False when
    there are none; None when that cannot be said here (module doc)."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema or "const" in schema:
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        others = [v for v in values if canonical(v) != canonical(value)]
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        return False if not others else {**rest, "enum": others}
    if _COMPOSED & set(schema) - ({"allOf"} if _patterns_only(schema) else set()):
        return None
    declared = schema.get("type")
    if declared is None:
        return None
    types = [declared] if isinstance(declared, str) else list(declared)
    own = _type_of(value)
    branches = []
    for kind in types:
        typed = {**schema, "type": kind}
        if kind == own or (kind == "number" and own == "integer"):
            narrowed = _SAME[kind](typed, value)
            if narrowed is None:
                return None
            branches.extend(_branches(narrowed))
        else:  # another type (or integers, for a fractional value) always differs
            branches.append(typed)
    return _any(branches)


def _patterns_only(schema: dict[str, Any]) -> bool:
    """An `allOf` of patterns alone (as `_string` writes them), which it can extend."""
    parts = schema.get("allOf")
    return isinstance(parts, list) and all(isinstance(p, dict) and set(p) == {"pattern"}
                                           for p in parts)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object",
            type(None): "null"}[type(value)]


def _object(schema: dict[str, Any], value: dict[str, Any]) -> Any:
    properties: dict[str, Any] = schema.get("properties", {})
    if schema.get("additionalProperties", True) is not False:
        return None
    required = set(schema.get("required", []))
    if (set(value) - set(properties) or required - set(value)
            or any(properties[key] is False for key in value)):
        return schema  # the value is no instance of it (a branch left by an earlier call)
    branches = []
    for key, item in value.items():
        other = differing(properties[key], item)
        if other is None:
            return None
        if other is not False:  # the key with another value
            branches.append({**schema, "properties": {**properties, key: other},
                             "required": sorted(required | {key})})
        if key not in required:  # the key left out
            branches.append({**schema, "properties": {**properties, key: False}})
    for key in properties:
        if key not in value and key not in required and properties[key] is not False:
            branches.append({**schema, "required": sorted(required | {key})})
    return _any(branches)


# A string that differs only by spaces around it, or an empty one, is the way a small model
# slips past an excluded call (`fast`: "A-10492 " after the lookup of "A-10492"): where a
# string must differ, it is also non-empty with no whitespace at either end.
TRIMMED = r"^\S([\s\S]*\S)?$"


def _string(schema: dict[str, Any], value: str) -> Any:
    if len(value) > MAX_STRING or '"' in value or "\\" in value:
        return None
    own = [{"pattern": schema["pattern"]}] if "pattern" in schema else []
    rest = {k: v for k, v in schema.items() if k not in ("pattern", "allOf")}
    parts = [*schema.get("allOf", []), *own, {"pattern": other_than(value)}]
    trimmed = {"pattern": TRIMMED}
    return {**rest, "allOf": [*(p for p in parts if p != trimmed), trimmed]}


def _number(schema: dict[str, Any], value: float) -> Any:
    """Below `value` or above it, each only where the schema's own bounds leave room."""
    integer = schema["type"] == "integer"
    branches = []
    if _room(schema.get("minimum"), schema.get("exclusiveMinimum"), value, integer, -1):
        high = schema.get("exclusiveMaximum")
        branches.append({**schema, "exclusiveMaximum": value if high is None
                         else min(high, value)})
    if _room(schema.get("maximum"), schema.get("exclusiveMaximum"), value, integer, 1):
        low = schema.get("exclusiveMinimum")
        branches.append({**schema, "exclusiveMinimum": value if low is None
                         else max(low, value)})
    return _any(branches)


def _room(inclusive: Any, exclusive: Any, value: float, integer: bool, side: int) -> bool:
    """Some instance lies strictly on `side` (-1 below, 1 above) of `value` within the
    schema's bounds on that side (the minima below, the maxima above)."""
    nearest = value + side if integer else value  # the closest candidate on that side
    for bound, strict in ((inclusive, False), (exclusive, True)):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            continue
        gap = (bound - nearest) * side  # how far the bound lies beyond the candidate
        if gap < 0 or (gap == 0 and (strict or not integer)):
            return False
    return True


def _boolean(schema: dict[str, Any], value: bool) -> Any:
    return {**schema, "enum": [not value]}


def _null(schema: dict[str, Any], value: None) -> Any:
    return False


def _array(schema: dict[str, Any], value: list[Any]) -> Any:
    items = schema.get("items", {})
    if len(value) > MAX_ITEMS or not isinstance(items, dict):
        return None
    least, most = schema.get("minItems", 0), schema.get("maxItems")
    n = len(value)
    branches: list[Any] = []
    if most is None or most > n:
        branches.append({**schema, "minItems": max(least, n + 1)})
    if n > least:
        branches.append({**schema, "maxItems": n - 1})
    for i, item in enumerate(value):
        other = differing(items, item)
        if other is None:
            return None
        if other is not False:
            branches.append({**schema, "prefixItems": [items] * i + [other],
                             "minItems": max(least, i + 1)})
    return _any(branches)


_SAME: dict[str, Any] = {"object": _object, "string": _string, "integer": _number,
                         "number": _number, "boolean": _boolean, "null": _null,
                         "array": _array}

# Characters a pattern writes with a backslash.
_META = frozenset("\\.+*?()|[]{}^$#&-~/")


def _literal(char: str) -> str:
    if char == "\n":
        return "\\n"
    if char in ("\r", "\t"):
        return {"\r": "\\r", "\t": "\\t"}[char]
    return "\\" + char if char in _META else char


def other_than(text: str) -> str:
    """A pattern of every string but `text`: a proper prefix of it, one that leaves it at
    some character, or it followed by more (linear in its length)."""
    rest = "[\\s\\S]+"
    for char in reversed(text):
        c = _literal(char)
        rest = f"(|[^{c}][\\s\\S]*|{c}{rest})"
    return f"^{rest}$"
