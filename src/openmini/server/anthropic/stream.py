"""Events -> Anthropic's server-sent events (`event: <name>` + `data: <json>`).

    message_start, ping,
    (content_block_start, content_block_delta..., content_block_stop)  per block,
    message_delta (stop_reason, stop_sequence, usage), message_stop

Blocks: reasoning -> a `thinking` block (`thinking_delta`s, then a `signature_delta` before it
stops), text -> a `text` block (`text_delta`), each tool call -> a `tool_use` block (its id
and name in the start, `input_json_delta` fragments after). A change of kind closes the open
block. `message_start` carries zero usage (the prompt is counted as it is generated); the
`message_delta` carries the totals, which the SDK takes over. An error after the first frame
is an `event: error`. Plain dicts and one JSON encode per frame.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

from openmini.errors import EngineError, OpenMiniError
from openmini.server.anthropic.errors import envelope, status_and_message
from openmini.server.anthropic.responses import signature, stop_reason, tool_use_id, usage_body
from openmini.server.sse import dumps
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    Failed,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)

log = logging.getLogger("openmini.server")


def frame(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


PING = frame("ping", {"type": "ping"})


def error_frame(exc: BaseException) -> bytes:
    """An error after the stream started: `event: error` (the SDK raises it)."""
    if not isinstance(exc, OpenMiniError):
        log.error("unexpected error in a stream", exc_info=exc)
    return frame("error", envelope(*status_and_message(exc)))


class MessageStream:
    """One request's events -> its SSE frames (n is 1 on this API)."""

    def __init__(self, message_id: str, model: str, stop_sequences: tuple[str, ...]):
        self.message_id, self.model, self.stop_sequences = message_id, model, stop_sequences
        self.index = -1  # the open (or last) block's index
        self.open: str | None = None  # the open block's type
        self.thinking: list[str] = []  # the open thinking block's text, for its signature
        self.stop: tuple[str, str | None] | None = None
        self._handlers: dict[type, Callable[[Any], list[bytes]]] = {
            ReasoningDelta: self._reasoning, TextDelta: self._text,
            ToolCallDelta: self._tool_call, ChoiceFinished: self._finished, Done: self._done,
            Failed: self._failed,
        }

    async def encode(self, first: Event | None, events: AsyncGenerator[Event, None]
                     ) -> AsyncGenerator[bytes, None]:
        """Frames for `first` and the rest of `events`; closes `events` when done."""
        try:
            yield self._start()
            yield PING
            event = first
            while event is not None:
                for data in self._handlers[type(event)](event):
                    yield data
                if isinstance(event, Done):
                    return
                event = await anext(events, None)
            raise EngineError("The generation ended without a result.")
        except Exception as exc:  # mid-stream: the status line is gone, report in-band
            yield error_frame(exc)
        finally:
            await events.aclose()

    def _start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}
        return frame("message_start", {"type": "message_start", "message": message})

    def _open(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        """Start a block of `kind` unless one is open already (tool_use: always a new one)."""
        if self.open == kind and kind != "tool_use":
            return []
        frames = self._close()
        self.index += 1
        self.open = kind
        return [*frames, frame("content_block_start", {"type": "content_block_start",
                                                       "index": self.index,
                                                       "content_block": block})]

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        frames = []
        if self.open == "thinking":
            frames.append(self._delta({"type": "signature_delta",
                                       "signature": signature("".join(self.thinking))}))
            self.thinking = []
        self.open = None
        frames.append(frame("content_block_stop", {"type": "content_block_stop",
                                                   "index": self.index}))
        return frames

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return frame("content_block_delta", {"type": "content_block_delta",
                                             "index": self.index, "delta": delta})

    def _reasoning(self, event: ReasoningDelta) -> list[bytes]:
        if not event.text:
            return []
        frames = self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        self.thinking.append(event.text)
        return [*frames, self._delta({"type": "thinking_delta", "thinking": event.text})]

    def _text(self, event: TextDelta) -> list[bytes]:
        if not event.text:
            return []
        frames = self._open("text", {"type": "text", "text": ""})
        return [*frames, self._delta({"type": "text_delta", "text": event.text})]

    def _tool_call(self, event: ToolCallDelta) -> list[bytes]:
        frames: list[bytes] = []
        if event.id is not None:
            frames = self._open("tool_use", {"type": "tool_use", "id": tool_use_id(event.id),
                                             "name": event.name, "input": {}})
        elif self.open != "tool_use":
            raise EngineError("A tool call's arguments came after its block was closed.")
        if event.arguments:
            frames.append(self._delta({"type": "input_json_delta",
                                       "partial_json": event.arguments}))
        return frames

    def _finished(self, event: ChoiceFinished) -> list[bytes]:
        self.stop = stop_reason(event.finish_reason, event.stop_reason, self.stop_sequences)
        return self._close()

    def _done(self, event: Done) -> list[bytes]:
        reason, sequence = self.stop or stop_reason(None, None, ())  # none: an error
        delta = {"type": "message_delta",
                 "delta": {"stop_reason": reason, "stop_sequence": sequence},
                 "usage": usage_body(event.usage)}
        return [*self._close(), frame("message_delta", delta),
                frame("message_stop", {"type": "message_stop"})]

    def _failed(self, event: Failed) -> list[bytes]:
        raise event.error
