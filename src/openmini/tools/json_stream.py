"""Calls written as JSON (bare, a list, or in a ```json fence), streamed as they are written.

Small models write their calls the way they have seen JSON written, often indented in a fence:

    ```json
    [
      {"name": "get_weather", "arguments": {"city": "Oslo"}},
      ...

`JsonCallStreamer` turns that into the same events as the `<tool_call>` splitter: `CallStart`
once an object has shown a name and begun its arguments (only call keys before them: an
answer that happens to be JSON never starts a call), `ArgumentsDelta`s as the arguments
arrive, written compactly (the model's indentation dropped, `, ` and `: ` between items, as
json.dumps writes them), and `CallEnd` or `CallProblem` when the object closes. Whatever it
cannot follow before a call has started is read whole at the end, as before
(`json_call_events`).
"""

from __future__ import annotations

from collections.abc import Callable

from openmini.tools.calls import new_call_id
from openmini.tools.jsonscan import BodyScanner
from openmini.tools.parsers.base import CALL_KEYS, CallShapeError, decode_json, read_calls
from openmini.tools.stream import (
    FENCE,
    ArgumentsDelta,
    CallEnd,
    CallProblem,
    CallStart,
    ContentDelta,
    StreamEvent,
    json_call_events,
)

_SPACE = " \t\r\n"


class Compact:
    """JSON text with the whitespace between tokens normalised, fed in pieces."""

    def __init__(self) -> None:
        self._string = False
        self._escape = False

    def feed(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if self._string:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == '"':
                    self._string = False
                out.append(ch)
            elif ch not in _SPACE:
                self._string = ch == '"'
                out.append(ch + " " if ch in ",:" else ch)
        return "".join(out)


class JsonCallStreamer:
    """`push(text)` as it arrives, `finish()` once: the events of the calls in it."""

    def __init__(self, new_id: Callable[[], str] = new_call_id, first_index: int = 0):
        self._new_id = new_id
        self._raw = ""  # everything, for the whole-text fallback
        self._prefix = ""  # the opening before the first bracket
        self._state = "open"  # open, list, object, after, tail, held
        self._list = False
        self._item: BodyScanner | None = None
        self._text: list[str] = []  # the current object's text
        self._compact = Compact()
        self._index: int | None = None  # the current object's call index, once started
        self._next = first_index
        self._items = 0
        self._tail: list[str] = []
        self._events: list[StreamEvent] = []

    def push(self, text: str) -> list[StreamEvent]:
        self._raw += text
        for ch in text:
            if self._state == "held":
                break
            self._char(ch)
        return self._take()

    def finish(self) -> list[StreamEvent]:
        if self._state == "held" or (self._next == 0 and self._index is None):
            return json_call_events(self._raw, self._new_id)  # nothing emitted: read it whole
        if self._item is not None:  # cut off inside an object
            self._close_item(complete=False)
        tail = "".join(self._tail).strip()
        tail = tail.removesuffix("```").strip()
        if tail:
            self._events.append(ContentDelta(tail))
        return self._take()

    def _take(self) -> list[StreamEvent]:
        events, self._events = self._events, []
        return events

    def _char(self, ch: str) -> None:
        state = self._state
        if state == "open":
            self._opening(ch)
        elif state == "object":
            self._in_object(ch)
        elif state in ("list", "after"):
            self._between(ch)
        else:  # tail: after the last bracket
            self._tail.append(ch)

    def _opening(self, ch: str) -> None:
        """Whitespace, then `[` or `{`, possibly after a ```json line."""
        self._prefix += ch
        opening = self._prefix.lstrip(_SPACE)
        if ch in _SPACE or FENCE.startswith(opening):
            return
        if ch == "[" and opening in ("[", FENCE + "["):
            self._list, self._state = True, "list"
        elif ch == "{" and opening in ("{", FENCE + "{"):
            self._start_item()
            self._in_object(ch)
        else:
            self._state = "held"

    def _between(self, ch: str) -> None:
        """In a list, between items: `,`, whitespace, `{` or the closing `]`."""
        if ch in _SPACE:
            return
        if ch == "," and self._state == "after":
            self._state = "list"
        elif ch == "{" and self._state == "list":
            self._start_item()
            self._in_object(ch)
        elif ch == "]":
            self._state = "tail"
        else:
            self._fail(f"tool call list: unexpected {ch!r} between calls")

    def _start_item(self) -> None:
        self._item, self._text, self._state = BodyScanner(), [], "object"
        self._compact = Compact()

    def _in_object(self, ch: str) -> None:
        item = self._item
        assert item is not None
        item.feed(ch)
        self._text.append(ch)
        if self._index is None and item.name is not None and item.has_arguments:
            if not CALL_KEYS.issuperset(item.keys):
                self._fail("tool call list: an item that is not a call")
                return
            self._index, self._next = self._next, self._next + 1
            self._events.append(CallStart(self._index, self._new_id(), item.name))
        if self._index is not None:
            piece = self._compact.feed(item.take_arguments())
            last = self._events[-1] if self._events else None
            if isinstance(last, ArgumentsDelta) and last.index == self._index:
                self._events[-1] = ArgumentsDelta(self._index, last.text + piece)
            elif piece:
                self._events.append(ArgumentsDelta(self._index, piece))
        if item.closed:
            self._close_item(complete=True)

    def _close_item(self, complete: bool) -> None:
        index, text = self._index, "".join(self._text)
        self._item, self._index, self._items = None, None, self._items + 1
        self._state = "after" if self._list else "tail"
        if index is None and self._next == 0:  # not a call, and none before it: read it whole
            self._state = "held"
            return
        where = f"tool call {self._items}"
        try:
            found = read_calls(decode_json(text), where) if complete else None
            problems = found[1] if found is not None else [
                f"{where}: {'not a tool call' if complete else 'cut off'}: {text[:80]}"]
        except CallShapeError as e:
            problems = [f"{where}: {e}"]
        self._events += [CallProblem(index, message) for message in problems]
        if index is not None:
            self._events.append(CallEnd(index))

    def _fail(self, message: str) -> None:
        """Before any call: read the whole output at the end; after one: a problem."""
        if self._next == 0:
            self._state = "held"
            return
        self._events.append(CallProblem(None, message))
        self._state, self._item = "tail", None
