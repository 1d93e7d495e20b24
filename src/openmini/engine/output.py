"""One token's text on its way out: reasoning split -> stop strings -> hooks -> deltas.

Stop strings apply to the answer, not to the reasoning. Hooks see both (each chunk says
which). A reasoning token's ids ride on a `ReasoningDelta`, an answer token's (with its
logprobs) on a `TextDelta`.
"""

from __future__ import annotations

import time

from openmini.engine.sequence import Seq
from openmini.hooks.chain import Chunk
from openmini.types import Event, FinishReason, ReasoningDelta, TextDelta, TokenLogprob, Usage

End = tuple[FinishReason, str | None]  # finish_reason, stop_reason


def running_usage(seq: Seq) -> Usage:
    req = seq.req
    thinking = seq.thinking.tokens if seq.thinking is not None else 0
    return Usage(len(req.prompt), req.completion_tokens, req.cached_tokens,
                 req.reasoning_tokens + thinking)


def emit_text(seq: Seq, token: int, text: str, logprobs: tuple[TokenLogprob, ...] | None,
              events: list[Event]) -> End | None:
    """Returns how the choice ends when this token ended it (a stop string or a hook)."""
    reasoning, in_block = "", False
    if seq.thinking is not None:
        in_block = not seq.thinking.split.closed
        reasoning, text = seq.thinking.split.push(text, token)
    answer, matched = seq.stops.push(text)
    end: End | None = None if matched is None else ("stop", matched)
    chunks = _chunks(reasoning, answer)
    if seq.hooks is not None:
        chunks = seq.hooks.push(chunks, in_block, token, running_usage(seq),
                                time.monotonic() - seq.started_at)
        if seq.hooks.stopped is not None:
            end = (seq.hooks.stopped.finish, seq.hooks.stopped.reason)  # type: ignore[assignment]
    _deliver(seq, chunks, (token,), in_block, logprobs, events)
    return end


def drain(seq: Seq, tail: str, events: list[Event]) -> End | None:
    """The choice ends: `tail` (a partial character) and whatever the split, the stop strings
    and the hooks still hold is released; returns a stop string found in it."""
    reasoning = ""
    if seq.thinking is not None:
        reasoning, tail = seq.thinking.split.push(tail)
        reasoning += seq.thinking.split.flush()
    answer, matched = seq.stops.push(tail)
    if matched is None:
        answer += seq.stops.flush()
    chunks = _chunks(reasoning, answer)
    if seq.hooks is not None:
        usage, elapsed = running_usage(seq), time.monotonic() - seq.started_at
        if chunks:
            chunks = seq.hooks.push(chunks, bool(reasoning), -1, usage, elapsed)
        chunks += seq.hooks.flush(usage, elapsed)
    _deliver(seq, chunks, (), False, None, events)
    if matched is None and seq.hooks is not None and seq.hooks.stopped is not None:
        return seq.hooks.stopped.finish, seq.hooks.stopped.reason  # type: ignore[return-value]
    return None if matched is None else ("stop", matched)


def flush_hooks(seq: Seq, events: list[Event]) -> None:
    """The choice ended at a stop: the hooks let go of what they still hold."""
    if seq.hooks is not None:
        chunks = seq.hooks.flush(running_usage(seq), time.monotonic() - seq.started_at)
        _deliver(seq, chunks, (), False, None, events)


def _chunks(reasoning: str, answer: str) -> list[Chunk]:
    chunks: list[Chunk] = [(True, reasoning)] if reasoning else []
    if answer:
        chunks.append((False, answer))
    return chunks


def _deliver(seq: Seq, chunks: list[Chunk], ids: tuple[int, ...], in_block: bool,
             logprobs: tuple[TokenLogprob, ...] | None, events: list[Event]) -> None:
    reasoning = "".join(text for is_reasoning, text in chunks if is_reasoning)
    answer = "".join(text for is_reasoning, text in chunks if not is_reasoning)
    if reasoning or (in_block and ids):
        events.append(ReasoningDelta(seq.index, reasoning, ids if in_block else ()))
    if answer or (ids and not in_block) or logprobs is not None:
        events.append(TextDelta(seq.index, answer, () if in_block else ids,
                                None if in_block else logprobs))
