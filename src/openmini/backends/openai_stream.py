"""OpenAI streaming chunks (chat.completion.chunk, text_completion) -> openmini Events.

Per choice, by `index`: `delta.content` / `text` -> TextDelta (with its logprobs, chat's or
the legacy shape), `delta.reasoning_content` (vLLM <= 0.9, llama.cpp, DeepSeek) or
`delta.reasoning` (newer vLLM) -> ReasoningDelta, `finish_reason` -> ChoiceFinished;
`usage` -> the final Done; an in-band `{"error": ...}` -> UpstreamError (kind server).

Tool calls. With the tools stage on the request (tools/stage.py), calls reach the caller the
way the local backend's do: as `<tool_call>{"name": ..., "arguments": ...}</tool_call>`
text, the argument fragments written as they arrive, so the stage splits them into
ToolCallDelta events, validates every call against its schema and retries or refuses an
invalid one exactly as for a local model (a finish_reason of `tool_calls` becomes `stop`: the
stage decides whether the choice called). Without the stage (no tools, tool_choice none) a
call the upstream makes anyway is passed on as ToolCallDelta events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from openmini.backends.upstream_errors import protocol_error, upstream_error
from openmini.tools.calls import new_call_id
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)

FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length",
                                   "tool_calls": "tool_calls", "function_call": "tool_calls",
                                   "content_filter": "content_filter"}
FLOOR = -9999.0  # a null logprob (OpenAI's floor for impossible tokens)


@dataclass(slots=True)
class _Choice:
    finished: bool = False
    call: int | None = None  # the upstream index of the call being written
    calls: list[int] = field(default_factory=list)  # upstream call indexes, in order
    has_arguments: bool = False


class ChunkReader:
    """`feed(chunk)` for each chunk's JSON, then `done(saw_done, seconds)` once."""

    def __init__(self, provider: str, n: int, chat: bool, call_text: bool):
        self.provider = provider
        self.chat = chat
        self.call_text = call_text  # calls as <tool_call> text, for the tools stage
        self.choices = [_Choice() for _ in range(n)]
        self.usage: Usage | None = None

    def feed(self, chunk: object) -> list[Event]:
        try:
            return self._chunk(chunk)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise protocol_error(self.provider, f"malformed chunk ({exc!r}): "
                                 f"{json.dumps(chunk)[:300]}") from None

    def done(self, saw_done: bool, seconds: float) -> Done:
        """The last event, when the stream ended as the API ends one: every choice finished,
        and `[DONE]` (or the usage chunk) seen; else the stream broke off."""
        open_ = [i for i, c in enumerate(self.choices) if not c.finished]
        if open_ or not (saw_done or self.usage is not None):
            what = f"choice {open_[0]} unfinished" if open_ else "no [DONE]"
            raise protocol_error(self.provider, f"the stream ended early ({what})")
        return Done(self.usage or Usage(), seconds)

    def _chunk(self, chunk: object) -> list[Event]:
        if not isinstance(chunk, dict):
            raise TypeError("a chunk is a JSON object")
        if chunk.get("error") is not None:
            raise _in_band(self.provider, chunk["error"])
        if chunk.get("usage") is not None:
            self.usage = usage_of(chunk["usage"])
        out: list[Event] = []
        for choice in chunk.get("choices") or ():
            out += self._choice(choice)
        return out

    def _choice(self, data: dict[str, Any]) -> list[Event]:
        index = data["index"]
        if not isinstance(index, int) or not 0 <= index < len(self.choices):
            raise ValueError(f"choice index {index!r} out of range")
        state = self.choices[index]
        out: list[Event] = []
        if state.finished:
            return out
        delta = (data.get("delta") or {}) if self.chat else {"content": data.get("text")}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            out.append(ReasoningDelta(index, str(reasoning)))
        logprobs = self._logprobs(data.get("logprobs"))
        text = delta.get("content")
        if text or logprobs:
            out += self._close_call(index, state)
            out.append(TextDelta(index, str(text or ""), logprobs=logprobs))
        for call in delta.get("tool_calls") or ():
            out += self._call(index, state, call)
        reason = data.get("finish_reason")
        if reason is not None:
            out += self._finish(index, state, reason, data.get("stop_reason"))
        return out

    def _logprobs(self, data: Any) -> tuple[TokenLogprob, ...] | None:
        if not data:
            return None
        tokens = chat_logprobs(data) if self.chat else legacy_logprobs(data)
        return tokens or None

    def _call(self, index: int, state: _Choice, call: dict[str, Any]) -> list[Event]:
        at = call.get("index", state.call if state.call is not None else len(state.calls))
        function = call.get("function") or {}
        name, arguments = function.get("name"), function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        out: list[Event] = []
        if at != state.call:
            if at in state.calls:
                raise ValueError(f"tool call {at} continued after call {state.call} began")
            if not name:
                raise ValueError(f"tool call {at} begins without a function name")
            out += self._close_call(index, state)
            state.call, state.has_arguments = at, False
            state.calls.append(at)
            out.append(self._open_call(index, len(state.calls) - 1, call.get("id"), name))
        if arguments:
            state.has_arguments = True
            out.append(TextDelta(index, arguments) if self.call_text
                       else ToolCallDelta(index, len(state.calls) - 1, arguments))
        return out

    def _open_call(self, index: int, number: int, call_id: object, name: str) -> Event:
        if self.call_text:
            return TextDelta(index, f'<tool_call>\n{{"name": {json.dumps(name)}, '
                                    '"arguments": ')
        return ToolCallDelta(index, number, "", id=str(call_id or new_call_id()), name=name)

    def _close_call(self, index: int, state: _Choice, cut: bool = False) -> list[Event]:
        """The end of the call being written; `cut` (max_tokens): left as the upstream cut
        it, as a local model's would be (the stage does not count it as the model's error)."""
        if state.call is None:
            return []
        state.call = None
        if cut or (state.has_arguments and not self.call_text):
            return []
        if not self.call_text:
            return [ToolCallDelta(index, len(state.calls) - 1, "{}")]
        return [TextDelta(index, ("" if state.has_arguments else "{}") + "}\n</tool_call>")]

    def _finish(self, index: int, state: _Choice, reason: object,
                stop_reason: object) -> list[Event]:
        if not isinstance(reason, str) or reason not in FINISH:
            raise ValueError(f"unknown finish_reason {reason!r}")
        finish = FINISH[reason]
        out = self._close_call(index, state, cut=finish == "length")
        state.finished = True
        if self.call_text and finish == "tool_calls":
            finish = "stop"  # the tools stage says tool_calls when it read a call
        stop = stop_reason if isinstance(stop_reason, str | int) else None
        out.append(ChoiceFinished(index, finish, stop))
        return out


def usage_of(data: dict[str, Any]) -> Usage:
    prompt = data.get("prompt_tokens_details") or {}
    completion = data.get("completion_tokens_details") or {}
    return Usage(prompt_tokens=int(data.get("prompt_tokens") or 0),
                 completion_tokens=int(data.get("completion_tokens") or 0),
                 cached_tokens=int(prompt.get("cached_tokens") or 0),
                 reasoning_tokens=int(completion.get("reasoning_tokens") or 0))


def chat_logprobs(data: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(t["token"], _lp(t["logprob"]), _bytes(t),
                              tuple(TopLogprob(top["token"], _lp(top["logprob"]), _bytes(top))
                                    for top in t.get("top_logprobs") or ()))
                 for t in data.get("content") or ())


def legacy_logprobs(data: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    """The completions shape: tokens, token_logprobs, top_logprobs (one {token: logprob}
    per token)."""
    tops = data.get("top_logprobs") or [None] * len(data["tokens"])
    return tuple(TokenLogprob(token, _lp(lp), tuple(token.encode()),
                              tuple(TopLogprob(t, _lp(v), tuple(t.encode()))
                                    for t, v in (top or {}).items()))
                 for token, lp, top in zip(data["tokens"], data["token_logprobs"], tops,
                                           strict=True))


def _lp(value: object) -> float:
    return FLOOR if value is None else float(cast(float, value))


def _bytes(entry: dict[str, Any]) -> tuple[int, ...]:
    raw = entry.get("bytes")
    return tuple(raw) if raw is not None else tuple(str(entry["token"]).encode())


def _in_band(provider: str, error: object) -> Exception:
    """An error the upstream reported inside a 200 stream (its status line long sent):
    the upstream failed mid-answer, kind server."""
    detail = error if isinstance(error, dict) else {"message": error}
    message = str(detail.get("message") or "an error in the stream")
    code = detail.get("code")
    return upstream_error(provider, "server", message, code=str(code) if code else None)
