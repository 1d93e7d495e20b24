"""Pydantic validation errors -> one 400 `InvalidRequest` naming the offending parameter.

Order: unparseable JSON, then parameters we know but do not support, then unknown
parameters (all listed, the first named), then the first remaining error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.server.schemas import UNSUPPORTED_FIELDS

_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none", "any", "constrained-str"})
_PREFIX = "Input should be "


def _is_union_tag(item: str) -> bool:
    """Pydantic puts the union member in error locations ('str', 'list[ContentPart]')."""
    return item in _SCALAR_TAGS or "[" in item or item[:1].isupper()


def param_path(loc: Sequence[Any]) -> str | None:
    """('body', 'messages', 0, 'role') -> 'messages.0.role'."""
    items = loc[1:] if loc[:1] == ("body",) else loc
    parts = [str(i) for i in items if not (isinstance(i, str) and _is_union_tag(i))]
    return ".".join(parts) or None


def validation_error(errors: Sequence[Any]) -> InvalidRequest:
    if any(e["type"] == "json_invalid" for e in errors):
        return InvalidRequest("We could not parse the JSON body of your request.")
    extras = [e for e in errors if e["type"] == "extra_forbidden"]
    unsupported = [e for e in extras if e["loc"][-1] in UNSUPPORTED_FIELDS]
    if unsupported:
        return _unsupported([param_path(e["loc"]) or "" for e in unsupported])
    if extras:
        names = [param_path(e["loc"]) or "" for e in extras]
        return InvalidRequest(f"Unrecognized request arguments supplied: {', '.join(names)}.",
                              param=names[0], code="unknown_parameter")
    return _first(errors)


def _unsupported(names: list[str]) -> UnsupportedParameter:
    if len(names) == 1:
        return UnsupportedParameter(names[0])
    return UnsupportedParameter(names[0], f"is not supported (nor are: {', '.join(names[1:])})")


def _first(errors: Sequence[Any]) -> InvalidRequest:
    if not errors:
        return InvalidRequest("Invalid request.")
    param = param_path(errors[0]["loc"])
    if param is None:  # the body itself
        return InvalidRequest("The request body must be a JSON object "
                              "(sent with Content-Type: application/json).")
    # a union reports one error per member: prefer the member that got furthest
    related = [e for e in errors if _within(param_path(e["loc"]) or "", param)]
    deepest = max(related, key=lambda e: len(param_path(e["loc"]) or ""))
    where = param_path(deepest["loc"])
    same = [e["msg"] for e in related if param_path(e["loc"]) == where]
    return InvalidRequest(f"Invalid value for '{where}': {_join(same)}.", param=where)


def _within(path: str, param: str) -> bool:
    return path == param or path.startswith(param + ".")


def _join(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    if all(m.startswith(_PREFIX) for m in unique):
        return _PREFIX + " or ".join(m[len(_PREFIX):] for m in unique)
    return "; ".join(unique)
