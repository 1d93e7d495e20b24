"""Streaming split of hermes-format output into content and tool-call events.

Fed text deltas in any cut, `HermesStreamSplitter` emits what OpenAI-format streaming deltas
are built from:

- `ContentDelta` for text outside `<tool_call>` blocks. A possible half tag (`<tool_c`) and
  trailing whitespace are held back until the next delta says what they are; whitespace
  before a block and at the end of an output with calls is dropped.
- per call: `CallStart` (index, id, name) as soon as the name is complete, `ArgumentsDelta`
  with the arguments' JSON text as it arrives, then `CallEnd`.
- `CallProblem` for a block that cannot be read (index None if the call never started).

Assembled, the events agree with `HermesParser().parse` on the whole text: the same content,
the same calls (arguments as JSON text), the same problem messages.

With `json_fence`, prose that opens a ```json fence before any tag goes on with calls written
as JSON (the tool grammar's `fence_hd` form): the prose is content, the fence is held whole
and read with the fenced parser when the output ends (`json_call_events`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openmini.tools.calls import new_call_id
from openmini.tools.jsonscan import BodyScanner
from openmini.tools.parsers import TOOL_PARSERS

if TYPE_CHECKING:
    from openmini.tools.json_stream import JsonCallStreamer
from openmini.tools.parsers.hermes import (
    CLOSE,
    OPEN,
    block_calls,
    first_tag,
    partial_suffix,
    unclosed_body,
)


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class CallStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ArgumentsDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class CallEnd:
    index: int


@dataclass(frozen=True, slots=True)
class CallProblem:
    index: int | None  # None: the block never got as far as a function name
    message: str


StreamEvent = ContentDelta | CallStart | ArgumentsDelta | CallEnd | CallProblem


@dataclass(slots=True)
class _OpenBlock:
    scanner: BodyScanner = field(default_factory=BodyScanner)
    parts: list[str] = field(default_factory=list)
    index: int | None = None
    pending: str = ""  # arguments that arrived before the name


class HermesStreamSplitter:
    """Feed `push(delta)` for each text delta, then `finish()` once; both return events."""

    def __init__(self, new_id: Callable[[], str] = new_call_id, json_fence: bool = False):
        self._new_id = new_id
        self._json_fence = json_fence
        self._fenced: JsonCallStreamer | None = None  # from a ```json fence after prose on
        self._buf = ""
        self._block: _OpenBlock | None = None
        self._blocks = 0  # blocks closed so far
        self._calls = 0  # calls started so far (the next call's index)
        self._events: list[StreamEvent] = []

    def push(self, text: str) -> list[StreamEvent]:
        if self._fenced is not None:
            return self._fenced.push(text)
        self._buf += text
        while self._step(final=False):
            pass
        return self._take()

    def finish(self) -> list[StreamEvent]:
        """Flush what was held back; close a block the output left open."""
        if self._fenced is not None:
            return self._fenced.finish()
        self._step(final=True)  # push() left no whole tag in the buffer: one step is all
        return self._take()

    def _take(self) -> list[StreamEvent]:
        events, self._events = self._events, []
        return events

    def _step(self, final: bool) -> bool:
        """Consume what can be consumed of the buffer; True if a tag was crossed."""
        return self._inside(final) if self._block else self._outside(final)

    def _outside(self, final: bool) -> bool:
        buf = self._buf
        tags = (OPEN, FENCE) if self._json_fence and not self._blocks else (OPEN,)
        i, tag = first_tag(buf, tags)
        if tag == FENCE:  # the whitespace before it goes with it: content if no call
            from openmini.tools.json_stream import JsonCallStreamer

            prose = buf[:i].rstrip()
            self._content(prose)
            self._fenced, self._buf = JsonCallStreamer(self._new_id, self._calls), ""
            self._events += self._fenced.push(buf[len(prose):])
            return False
        if i >= 0:
            self._content(buf[:i].rstrip())
            self._buf = buf[i + len(OPEN):]
            self._block = _OpenBlock()
            return True
        if final:
            self._content(buf.rstrip() if self._blocks else buf)
            self._buf = ""
            return False
        cut = len(buf[: len(buf) - partial_suffix(buf, tags)].rstrip())
        self._content(buf[:cut])
        self._buf = buf[cut:]
        return False

    def _inside(self, final: bool) -> bool:
        buf = self._buf
        j, tag = first_tag(buf, (CLOSE, OPEN))
        if j >= 0:
            self._body(buf[:j])
            self._buf = buf[j + len(CLOSE):] if tag == CLOSE else buf[j:]
            self._close()
            return True
        if final:
            self._body(unclosed_body(buf))
            self._buf = ""
            self._close()
            return False
        keep = partial_suffix(buf, (CLOSE, OPEN))
        self._body(buf[: len(buf) - keep])
        self._buf = buf[len(buf) - keep:]
        return False

    def _body(self, text: str) -> None:
        block = self._block
        assert block is not None
        block.parts.append(text)
        block.scanner.feed(text)
        block.pending += block.scanner.take_arguments()
        if block.index is None and block.scanner.name is not None:
            block.index = self._start(block.scanner.name)
        if block.index is not None and block.pending:
            self._emit(ArgumentsDelta(block.index, block.pending))
            block.pending = ""

    def _close(self) -> None:
        block, self._block = self._block, None
        assert block is not None
        self._blocks += 1
        calls, problems = block_calls("".join(block.parts), self._blocks)
        if block.index is None:
            for name, arguments in calls:  # a shape the scanner does not follow
                self._late_call(name, arguments)
        elif not block.scanner.has_arguments and not problems:
            self._emit(ArgumentsDelta(block.index, "{}"))
        for message in problems:
            self._emit(CallProblem(block.index, message))
        if block.index is not None:
            self._emit(CallEnd(block.index))

    def _late_call(self, name: str, arguments: Any) -> None:
        index = self._start(name)
        self._emit(ArgumentsDelta(index, json.dumps(arguments, ensure_ascii=False)))
        self._emit(CallEnd(index))

    def _start(self, name: str) -> int:
        index, self._calls = self._calls, self._calls + 1
        self._emit(CallStart(index, self._new_id(), name))
        return index

    def _content(self, text: str) -> None:
        if text:
            self._emit(ContentDelta(text))

    def _emit(self, event: StreamEvent) -> None:
        self._events.append(event)


FENCE = "```json\n"


def json_call_events(text: str, new_id: Callable[[], str] = new_call_id) -> list[StreamEvent]:
    """A whole output (or its end) written as JSON: its calls (fenced or bare), or plain
    content."""
    parsed = TOOL_PARSERS.create("fenced").parse(text)
    if not parsed.calls and not parsed.problems:
        parsed = TOOL_PARSERS.create("bare").parse(text)
    if not parsed.calls and not parsed.problems:
        return [ContentDelta(text)]
    events: list[StreamEvent] = [ContentDelta(parsed.content)] if parsed.content else []
    for i, (name, arguments) in enumerate(parsed.calls):
        events += [CallStart(i, new_id(), name),
                   ArgumentsDelta(i, json.dumps(arguments, ensure_ascii=False)), CallEnd(i)]
    return events + [CallProblem(None, message) for message in parsed.problems]
