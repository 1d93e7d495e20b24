"""Anthropic's Messages stream (`event: <name>` + `data: <json>`) -> openmini Events.

    message_start                   usage so far (input, cache read / creation)
    content_block_start             text / thinking (its text, if any, passed on) / tool_use
    content_block_delta             text_delta -> TextDelta, thinking_delta -> ReasoningDelta,
                                    input_json_delta -> a call's argument fragment
    content_block_stop              the end of a tool_use block closes its call
    message_delta                   stop_reason -> ChoiceFinished; usage (the totals so far)
    message_stop                    the end: Done with the usage
    error                           UpstreamError, kind server (retryable)

`ping`, `signature_delta`, other event, block and delta types are ignored (the API says new
ones may appear). One choice (index 0): the API has no `n`.

stop_reason: end_turn -> stop, stop_sequence -> stop with `stop_reason` the sequence,
max_tokens and model_context_window_exceeded -> length, tool_use -> tool_calls, refusal ->
content_filter; another value is a protocol error.

Tool calls, as openai_stream.py hands them on: with the tools stage on the request, as
`<tool_call>{"name": ..., "arguments": ...}</tool_call>` text (the argument fragments written
as they arrive) that the stage parses and validates, and a stop_reason of tool_use becomes
stop (the stage says tool_calls when it read a call); without the stage, as ToolCallDelta
events with the upstream's call id.

Usage: prompt tokens are input + cache read + cache creation tokens (Anthropic counts cache
reads apart), cached tokens the cache reads; output tokens are the completion's (thinking
included; Anthropic does not say how many were thinking).
"""

from __future__ import annotations

import json
from typing import Any

from openmini.backends.upstream_errors import protocol_error, upstream_error
from openmini.errors import UpstreamError
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "content_filter"}
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens")


def usage_of(u: dict[str, Any]) -> Usage:
    """Anthropic's usage as ours: it counts cache reads and writes apart from
    `input_tokens`, our prompt tokens include them."""
    cached = int(u.get("cache_read_input_tokens") or 0)
    prompt = (int(u.get("input_tokens") or 0) + cached
              + int(u.get("cache_creation_input_tokens") or 0))
    return Usage(prompt_tokens=prompt, completion_tokens=int(u.get("output_tokens") or 0),
                 cached_tokens=cached)


class EventReader:
    """`feed(name, data)` for each event, then `done(seconds)` once the stream ended.
    `skip`: leading whitespace to drop from the answer (held back from a prefill)."""

    def __init__(self, provider: str, call_text: bool, skip: int = 0):
        self.provider = provider
        self.call_text = call_text  # calls as <tool_call> text, for the tools stage
        self.skip = skip
        self.usage: dict[str, int] = {}
        self.finished = False  # a stop_reason was read
        self.stopped = False  # message_stop was read
        self.types: dict[int, str] = {}  # block index -> its type
        self.call: int | None = None  # the block index of the call being written
        self.calls = 0
        self.has_arguments = False

    def feed(self, name: str, data: object) -> list[Event]:
        try:
            return self._event(name, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise protocol_error(self.provider, f"malformed {name} event ({exc!r}): "
                                 f"{json.dumps(data)[:300]}") from None

    def done(self, seconds: float) -> Done:
        """The last event, when the stream ended as the API ends one (a stop_reason, then
        message_stop); else it broke off."""
        if not (self.finished and self.stopped):
            what = "no message_stop" if self.finished else "no stop_reason"
            raise protocol_error(self.provider, f"the stream ended early ({what})")
        return Done(usage_of(self.usage), seconds)

    def _event(self, name: str, data: object) -> list[Event]:
        if not isinstance(data, dict):
            raise TypeError("an event's data is a JSON object")
        kind = data.get("type", name)
        if kind == "error" or name == "error":
            raise in_band(self.provider, data.get("error"))
        if self.finished and kind not in ("message_delta", "message_stop"):
            return []
        if kind == "message_start":
            self._usage(data["message"].get("usage"))
        elif kind == "content_block_start":
            return self._start(data["index"], data["content_block"])
        elif kind == "content_block_delta":
            return self._delta(data["index"], data["delta"])
        elif kind == "content_block_stop":
            return self._close_call() if data["index"] == self.call else []
        elif kind == "message_delta":
            self._usage(data.get("usage"))
            return self._finish(data["delta"])
        elif kind == "message_stop":
            self.stopped = True
        return []

    def _usage(self, usage: object) -> None:
        if usage is None:
            return
        if not isinstance(usage, dict):
            raise TypeError("usage is a JSON object")
        self.usage.update((key, int(usage[key])) for key in USAGE_KEYS
                          if usage.get(key) is not None)

    def _start(self, index: int, block: dict[str, Any]) -> list[Event]:
        if not isinstance(index, int) or index in self.types:
            raise ValueError(f"content block index {index!r} again")
        kind = block["type"]
        self.types[index] = kind
        out = self._close_call()
        if kind == "text":
            out += self._text(str(block.get("text") or ""))
        elif kind == "thinking" and block.get("thinking"):
            out.append(ReasoningDelta(0, str(block["thinking"])))
        elif kind == "tool_use":
            out += self._open_call(index, block)
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        kind = delta["type"]
        if index not in self.types:
            raise ValueError(f"a delta for content block {index!r}, never started")
        if kind == "text_delta":
            return self._text(str(delta["text"]))
        if kind == "thinking_delta":
            text = str(delta["thinking"])
            return [ReasoningDelta(0, text)] if text else []
        if kind == "input_json_delta":
            if index != self.call:
                raise ValueError(f"input_json_delta for content block {index}, not a tool "
                                 "call being written")
            return self._arguments(str(delta["partial_json"]))
        return []

    def _text(self, text: str) -> list[Event]:
        if self.skip:
            blank = len(text) - len(text.lstrip())
            cut = min(blank, self.skip)
            text = text[cut:]
            self.skip = 0 if text else self.skip - cut
        return [TextDelta(0, text)] if text else []

    def _open_call(self, index: int, block: dict[str, Any]) -> list[Event]:
        name = block["name"]
        if not isinstance(name, str) or not name:
            raise ValueError("a tool_use block without a name")
        self.call, self.has_arguments = index, False
        self.calls += 1
        if self.call_text:
            out: list[Event] = [TextDelta(0, f'<tool_call>\n{{"name": {json.dumps(name)}, '
                                             '"arguments": ')]
        else:
            out = [ToolCallDelta(0, self.calls - 1, "", id=str(block["id"]), name=name)]
        given = block.get("input")
        if given:  # a block sent whole rather than streamed
            out += self._arguments(json.dumps(given))
        return out

    def _arguments(self, fragment: str) -> list[Event]:
        if not fragment:
            return []
        self.has_arguments = True
        if self.call_text:
            return [TextDelta(0, fragment)]
        return [ToolCallDelta(0, self.calls - 1, fragment)]

    def _close_call(self, cut: bool = False) -> list[Event]:
        """The end of the call being written; `cut` (max_tokens): left as the upstream cut
        it, as a local model's would be."""
        if self.call is None:
            return []
        self.call = None
        if cut or (self.has_arguments and not self.call_text):
            return []
        if not self.call_text:
            return [ToolCallDelta(0, self.calls - 1, "{}")]
        return [TextDelta(0, ("" if self.has_arguments else "{}") + "}\n</tool_call>")]

    def _finish(self, delta: dict[str, Any]) -> list[Event]:
        reason = delta.get("stop_reason")
        if reason is None or self.finished:
            return []
        if not isinstance(reason, str) or reason not in STOP_REASONS:
            raise ValueError(f"unknown stop_reason {reason!r}")
        finish = STOP_REASONS[reason]
        out = self._close_call(cut=finish == "length")
        self.finished = True
        if self.call_text and finish == "tool_calls":
            finish = "stop"  # the tools stage says tool_calls when it read a call
        sequence = delta.get("stop_sequence") if reason == "stop_sequence" else None
        out.append(ChoiceFinished(0, finish, sequence if isinstance(sequence, str) else None))
        return out


def in_band(provider: str, error: object) -> UpstreamError:
    """An `event: error` (its status line long sent, e.g. overloaded_error): the upstream
    failed mid-answer, kind server; Anthropic's error type is kept as the code."""
    detail = error if isinstance(error, dict) else {"message": error}
    message = str(detail.get("message") or "an error in the stream")
    kind = detail.get("type")
    return upstream_error(provider, "server", message, code=str(kind) if kind else None)
