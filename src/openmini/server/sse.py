"""Events -> OpenAI server-sent-event chunks (`data: {json}\\n\\n` ... `data: [DONE]\\n\\n`).

Plain dicts and one JSON encode per chunk; no pydantic on this path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

from openmini.server.errors import error_envelope
from openmini.server.logprobs import chat_logprobs, completion_logprobs
from openmini.server.responses import (
    ResponseMeta,
    code_fields,
    public_finish_reason,
    usage_dict,
)
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    Failed,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)

try:  # optional speed-up
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


DONE = b"data: [DONE]\n\n"


def frame(obj: Any) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


class ChunkFormat(Protocol):
    """The per-API shape of one choice inside a chunk."""

    object: str

    def opening(self, index: int) -> dict[str, Any] | None: ...

    def delta(self, event: TextDelta) -> dict[str, Any]: ...

    def finish(self, event: ChoiceFinished, reason: str) -> dict[str, Any]: ...


class ChatChunks:
    object = "chat.completion.chunk"

    def opening(self, index: int) -> dict[str, Any] | None:
        return {"index": index, "delta": {"role": "assistant", "content": ""},
                "logprobs": None, "finish_reason": None}

    def delta(self, event: TextDelta) -> dict[str, Any]:
        logprobs = None if event.logprobs is None else chat_logprobs(event.logprobs)
        return {"index": event.index, "delta": {"content": event.text},
                "logprobs": logprobs, "finish_reason": None}

    def finish(self, event: ChoiceFinished, reason: str) -> dict[str, Any]:
        delta = {} if event.code is None else code_fields(event.code)
        return {"index": event.index, "delta": delta, "logprobs": None,
                "finish_reason": reason, "stop_reason": event.stop_reason}


class TextChunks:
    object = "text_completion"

    def __init__(self, n: int):
        self.offsets = [0] * n  # text_offset continues across chunks

    def opening(self, index: int) -> dict[str, Any] | None:
        return None

    def delta(self, event: TextDelta) -> dict[str, Any]:
        logprobs = None
        if event.logprobs is not None:
            logprobs, self.offsets[event.index] = completion_logprobs(
                event.logprobs, self.offsets[event.index])
        return {"index": event.index, "text": event.text, "logprobs": logprobs,
                "finish_reason": None}

    def finish(self, event: ChoiceFinished, reason: str) -> dict[str, Any]:
        return {"index": event.index, "text": "", "logprobs": None,
                "finish_reason": reason, "stop_reason": event.stop_reason}


class SSEEncoder:
    """Turns one request's event stream into SSE frames."""

    def __init__(self, meta: ResponseMeta, fmt: ChunkFormat, n: int, include_usage: bool):
        self.meta, self.fmt, self.n, self.include_usage = meta, fmt, n, include_usage
        self.first_fields: dict[str, Any] = {}  # top-level fields of the first chunk only
        self._handlers: dict[type, Callable[[Any], bytes | None]] = {
            TextDelta: self._text, ReasoningDelta: self._reasoning, ToolCallDelta: self._tool_call,
            ChoiceFinished: self._finished,
            Done: self._done, Failed: self._failed,
        }

    async def encode(self, first: Event | None, events: AsyncGenerator[Event, None]
                     ) -> AsyncGenerator[bytes, None]:
        """Frames for `first` and the rest of `events`; closes `events` when done."""
        try:
            for index in range(self.n):
                opening = self.fmt.opening(index)
                if opening is not None:
                    yield self._chunk([opening])
            event = first
            while event is not None:
                data = self._handlers[type(event)](event)
                if data is not None:
                    yield data
                if isinstance(event, Done):
                    break
                event = await anext(events, None)
        except Exception as exc:  # mid-stream: the status line is gone, report in-band
            yield frame(error_envelope(exc))
            return
        finally:
            await events.aclose()
        yield DONE

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {"id": self.meta.id, "object": self.fmt.object,
                                "created": self.meta.created, "model": self.meta.model,
                                "choices": choices}
        if self.first_fields:
            body.update(self.first_fields)
            self.first_fields = {}
        if self.include_usage:
            body["usage"] = usage
        return frame(body)

    def _text(self, event: TextDelta) -> bytes | None:
        if not event.text and event.logprobs is None:
            return None
        return self._chunk([self.fmt.delta(event)])

    def _reasoning(self, event: ReasoningDelta) -> bytes | None:
        """`delta.reasoning_content` (vLLM's and DeepSeek's name); chat only."""
        if not event.text:
            return None
        return self._chunk([{"index": event.index, "delta": {"reasoning_content": event.text},
                             "logprobs": None, "finish_reason": None}])

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        call: dict[str, Any] = {"index": event.call_index,
                                "function": {"arguments": event.arguments}}
        if event.id is not None:
            call = {"index": event.call_index, "id": event.id, "type": "function",
                    "function": {"name": event.name, "arguments": event.arguments}}
        return self._chunk([{"index": event.index, "delta": {"tool_calls": [call]},
                             "logprobs": None, "finish_reason": None}])

    def _finished(self, event: ChoiceFinished) -> bytes:
        reason = public_finish_reason(event.finish_reason)
        return self._chunk([self.fmt.finish(event, reason)])

    def _done(self, event: Done) -> bytes | None:
        return self._chunk([], usage_dict(event.usage)) if self.include_usage else None

    def _failed(self, event: Failed) -> bytes:
        raise event.error
