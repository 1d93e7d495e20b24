"""`minProperties` / `maxProperties` on a closed object, said as which keys are present.

llguidance counts properties only when every key it lists is required. On an object whose
keys are known (`additionalProperties: false`, no `patternProperties`) the
count is the required keys plus the optional ones present, so the bounds say how many of the
optional keys `O` are there, and that is exact as keys (for objects; other types pass the
bounds, and the keys' keywords, alike; bounds no object meets leave only the other types):

- at least `a` of `O`: `anyOf` over the `a`-key subsets of `O`, each `required`;
- at most `b` of `O`: at least `|O| - b` absent, `anyOf` over those subsets, each key `false`.

"At least one of these" (`minProperties: 1`, an update call whose fields are all optional)
is `|O|` branches. A bound that needs more than `MAX_BRANCHES` branches (both bounds: their
product, since llguidance multiplies them out) stays, and is refused as before. Keys the
object's `allOf`/`anyOf` members require count as optional here; the members still require
them, so the two together stay exact. schema_rewrite.py applies this to objects closed as
written; tools/closing.py to those it closes.
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Any

from openmini.decoding.schema_negation import without_not

MAX_BRANCHES = 512  # compiles in under 0.1 s (10 keys, min 2, max 9: 450)


def without_counts(schema: Any) -> Any:
    """`schema` with its property-count bounds said as keys (see the module doc)."""
    if not isinstance(schema, dict):
        return schema
    low, high = schema.get("minProperties"), schema.get("maxProperties")
    if (low is None and high is None) or not _closed_object(schema):
        return schema
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (low or 0, high or 0)):
        return schema
    props = schema.get("properties") or {}
    keys = [k for k, v in props.items() if v is not False]
    required = {k for k in schema.get("required", []) if k in keys}
    optional = [k for k in keys if k not in required]
    at_least = max(0, (low or 0) - len(required))
    at_most = len(optional) if high is None else high - len(required)
    if at_least > min(at_most, len(optional)) or at_most < 0:  # no object fits
        return without_not({**schema, "not": {"type": "object"}})
    absent = len(optional) - min(at_most, len(optional))
    if comb(len(optional), at_least) * comb(len(optional), absent) > MAX_BRANCHES:
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("minProperties", "maxProperties")}
    extra: list[Any] = []
    if at_least:
        extra.append({"anyOf": [{"required": list(c)} for c in combinations(optional, at_least)]})
    if absent:
        extra.append({"anyOf": [{"properties": dict.fromkeys(c, False)}
                                for c in combinations(optional, absent)]})
    return {**rest, "allOf": [*rest.get("allOf", []), *extra]} if extra else rest


def _closed_object(schema: dict[str, Any]) -> bool:
    """An object's keys can only be those of its `properties` (the bounds, `required` and
    `properties`, all apply to objects only, so other types pass them all alike)."""
    return schema.get("additionalProperties") is False and not schema.get("patternProperties")
