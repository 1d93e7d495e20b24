"""What every tool-call parser returns, and reading the call shapes small models write.

A call is an object with a function name and an arguments object. Besides the canonical
`{"name": ..., "arguments": {...}}`, small models write `parameters` for `arguments`,
`{"function": "name", ...}`, OpenAI's own `{"type": "function", "function": {...}}`, and
arguments as a JSON string (as OpenAI returns them). A call that is there but cannot be read
becomes a problem message, never an exception or a silent drop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

ARGUMENT_KEYS = ("arguments", "parameters")
_NAME_KEYS = frozenset({"name", "function"})
CALL_KEYS = frozenset({"name", "function", "arguments", "parameters", "type", "id"})
_CALLISH = re.compile(r'"(?:name|function)"\s*:')


@dataclass(slots=True)
class ParsedOutput:
    """Model output split into text (`content`, None if only whitespace) and calls."""

    content: str | None
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments object)
    problems: list[str] = field(default_factory=list)  # calls that were there but unreadable


class ToolParser(Protocol):
    def parse(self, text: str) -> ParsedOutput: ...


class CallShapeError(ValueError):
    """A call that is present but cannot be read; the message says why."""


def decode_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CallShapeError(f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno}): "
                             f"{_excerpt(text)}") from None


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def looks_like_call(text: str) -> bool:
    """Whether unparseable text was meant as a call (it has a "name"/"function" key)."""
    return _CALLISH.search(text) is not None


def is_call_object(value: Any) -> bool:
    """A strict test for free-form output: a name key and nothing but call keys."""
    return (isinstance(value, dict) and not _NAME_KEYS.isdisjoint(value)
            and CALL_KEYS.issuperset(value))


def call_from_object(obj: dict[str, Any]) -> tuple[str, Any]:
    """(name, arguments object) from one call object, or CallShapeError."""
    inner = obj.get("function")
    if isinstance(inner, dict):
        obj = inner
    name = obj.get("name", obj.get("function"))
    if not isinstance(name, str) or not name:
        raise CallShapeError(f"no function name in {_excerpt(json.dumps(obj))}")
    return name, _arguments(obj)


def _arguments(obj: dict[str, Any]) -> dict[str, Any]:
    key = next((k for k in ARGUMENT_KEYS if k in obj), "arguments")
    value = obj.get(key)
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise CallShapeError(f"'{key}' is a string but not JSON ({e.msg}): "
                                 f"{_excerpt(obj[key])}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CallShapeError(f"'{key}' must be a JSON object, got {type(value).__name__}")
    return value


def read_calls(value: Any, where: str) -> tuple[list[tuple[str, Any]], list[str]] | None:
    """Calls in free-form JSON (an object or a list of them); None if it is not call-shaped."""
    items = value if isinstance(value, list) else [value]
    if not any(is_call_object(item) for item in items):
        return None
    calls: list[tuple[str, Any]] = []
    problems: list[str] = []
    for n, item in enumerate(items):
        try:
            if not is_call_object(item):
                raise CallShapeError(f"item {n} is not a tool call: {_excerpt(json.dumps(item))}")
            calls.append(call_from_object(item))
        except CallShapeError as e:
            problems.append(f"{where}: {e}")
    return calls, problems


def outside_text(pieces: list[str]) -> str | None:
    """Content from the text between removed call blocks (`len(pieces)` = blocks + 1).

    Whitespace before each block and at the very end is dropped, the same text the streaming
    splitter emits.
    """
    text = "".join(piece.rstrip() for piece in pieces)
    return text if text.strip() else None


def plain(text: str) -> ParsedOutput:
    """Output with no calls in it."""
    return ParsedOutput(content=text if text.strip() else None)
