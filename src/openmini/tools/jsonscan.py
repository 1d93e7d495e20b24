"""Incremental reading of one call body, `{"name": ..., "arguments": ...}`, as it streams in.

`BodyScanner` learns the function name as soon as its string is complete and hands out the
arguments value as it arrives: an object's raw JSON text, or the decoded contents of a JSON
string (the model wrote the arguments as a string, as OpenAI returns them). It never raises:
whatever it cannot follow, the final parse of the whole body (`hermes.block_calls`) reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from openmini.tools.parsers.base import ARGUMENT_KEYS

_WHITESPACE = " \t\r\n"


class BodyScanner:
    """A character-level state machine over the top level of one JSON object."""

    __slots__ = ("_depth", "_escape", "_key", "_mode", "_out", "_raw", "_state", "_string",
                 "_tail", "has_arguments", "keys", "name")

    def __init__(self) -> None:
        self.name: str | None = None
        self.has_arguments = False  # an arguments object or string has started
        self.keys: list[str] = []  # the top-level keys so far
        self._state = "start"
        self._depth = 0
        self._string: str | None = None  # inside a string: "key", "value" or "nested"
        self._escape = False
        self._key = ""
        self._raw: list[str] = []  # a key's text, or a name / unusable value's text
        self._mode = "skip"  # where the current top-level value goes
        self._out: list[str] = []  # arguments text not yet taken
        self._tail = ""  # string arguments not yet decoded

    def feed(self, text: str) -> None:
        for ch in text:
            if self._string is not None:
                self._in_string(ch)
            else:
                _STATES[self._state](self, ch)

    @property
    def closed(self) -> bool:
        """The object has closed (or the text was not one object)."""
        return self._state == "done"

    def take_arguments(self) -> str:
        """The arguments text that arrived since the last call."""
        if self._mode == "string":
            self._decode_tail(final=False)
        text = "".join(self._out)
        self._out.clear()
        return text

    # -- strings ---------------------------------------------------------------------------

    def _in_string(self, ch: str) -> None:
        owner = self._string
        if self._escape or ch != '"':
            self._escape = not self._escape and ch == "\\"
            if owner == "key":
                self._raw.append(ch)
            else:
                self._value_char(ch)
            return
        self._string = None
        if owner == "key":
            self._key = _json_str('"' + "".join(self._raw) + '"')
            self.keys.append(self._key)
            self._state = "colon"
        elif owner == "value":
            if self._mode != "string":
                self._value_char(ch)
            self._end_value()
        else:
            self._value_char(ch)

    # -- top-level states ------------------------------------------------------------------

    def _start(self, ch: str) -> None:
        if ch == "{":
            self._depth = 1
            self._state = "key"
        elif ch not in _WHITESPACE:  # not one object (a list of calls, garbage): not followed
            self._state = "done"

    def _expect_key(self, ch: str) -> None:
        if ch == '"':
            self._raw = []
            self._string = "key"
        elif ch == "}":
            self._state = "done"

    def _colon(self, ch: str) -> None:
        if ch == ":":
            self._state = "value_start"

    def _value_start(self, ch: str) -> None:
        if ch in _WHITESPACE:
            return
        self._mode = self._choose_mode(ch)
        self._raw = []
        self._state = "value"
        if ch == '"':
            self._string = "value"
            if self._mode == "string":
                return
        elif ch in "{[":
            self._depth += 1
        self._value_char(ch)

    def _choose_mode(self, first: str) -> str:
        if self._key == "name" and self.name is None:
            return "name"
        if self._key in ARGUMENT_KEYS and not self.has_arguments:
            self.has_arguments = first in '{"'
            return {"{": "raw", '"': "string"}.get(first, "other")
        return "skip"

    def _value(self, ch: str) -> None:
        if self._depth == 1:  # a number or literal: it ends at whitespace, ',' or '}'
            if ch in _WHITESPACE or ch in ",}":
                self._end_value()
                self._after(ch)
            else:
                self._value_char(ch)
            return
        self._value_char(ch)
        if ch == '"':
            self._string = "nested"
        elif ch in "{[":
            self._depth += 1
        elif ch in "}]":
            self._depth -= 1
            if self._depth == 1:
                self._end_value()

    def _after(self, ch: str) -> None:
        if ch == ",":
            self._state = "key"
        elif ch == "}":
            self._state = "done"

    def _done(self, ch: str) -> None:
        pass

    # -- values ----------------------------------------------------------------------------

    def _value_char(self, ch: str) -> None:
        if self._mode == "raw":
            self._out.append(ch)
        elif self._mode == "string":
            self._tail += ch
        elif self._mode != "skip":
            self._raw.append(ch)

    def _end_value(self) -> None:
        if self._mode == "name":
            self.name = _json_str("".join(self._raw)) or None
        elif self._mode == "string":
            self._decode_tail(final=True)
        self._mode = "skip"
        self._state = "after"

    def _decode_tail(self, final: bool) -> None:
        cut = len(self._tail) if final else safe_cut(self._tail)
        piece, self._tail = self._tail[:cut], self._tail[cut:]
        try:
            self._out.append(json.loads(f'"{piece}"'))
        except json.JSONDecodeError:
            self._mode = "skip"  # the final parse reports it


_STATES: dict[str, Callable[[BodyScanner, str], None]] = {
    "start": BodyScanner._start,
    "key": BodyScanner._expect_key,
    "colon": BodyScanner._colon,
    "value_start": BodyScanner._value_start,
    "value": BodyScanner._value,
    "after": BodyScanner._after,
    "done": BodyScanner._done,
}


def _json_str(text: str) -> str:
    """The string a JSON string literal stands for; "" if it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return ""
    return value if isinstance(value, str) else ""


def safe_cut(raw: str) -> int:
    """How much of raw JSON string text decodes on its own: no escape or surrogate pair cut."""
    i = 0
    while (i := raw.find("\\", i)) >= 0:
        size = _escape_size(raw, i)
        if size is None:
            return i
        i += size
    return len(raw)


def _escape_size(raw: str, i: int) -> int | None:
    """Length of the escape at `i`, or None if it is not complete yet."""
    n = len(raw)
    if i + 2 > n:
        return None
    if raw[i + 1] != "u":
        return 2
    if i + 6 > n:
        return None
    if not "d800" <= raw[i + 2:i + 6].lower() <= "dbff":  # not a high surrogate
        return 6
    if i + 8 > n:
        return None
    if raw[i + 6:i + 8] != "\\u":
        return 6
    return 12 if i + 12 <= n else None
