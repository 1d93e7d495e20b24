"""Backtracking for `bad_words`: rewind a sequence to an earlier generated position and
resample there with the offending path excluded.

A rewind to position p keeps the first p generated tokens and undoes everything the others
did: the token list, the KV cells (`llama_memory_seq_rm`), the sampler's penalty counts and
processors (a grammar matcher rolls back), the detokeniser's pending bytes, the guard's held
text, and the token counts. The last kept token is recomputed by the next decode, which gives
the logits for position p again; the first token of the banned path is excluded there.
Nothing rewound was ever emitted: the guard held it back.
"""

from __future__ import annotations

from typing import Protocol

from openmini.engine.sequence import Seq
from openmini.errors import EngineError

MAX_BACKTRACKS = 64  # per sequence; past it the choice ends with finish_reason content_filter


class KvMemory(Protocol):
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool: ...


def rewind(seq: Seq, memory: KvMemory, position: int) -> int:
    """Keep the first `position` generated tokens; returns how many were dropped."""
    assert seq.guard is not None and seq.guard.holds(position)  # nothing sent is retracted
    dropped = seq.n_generated - position
    seq.text.setstate(seq.guard.truncate(position).detok_state)
    keep = seq.prompt_len + position
    del seq.tokens[keep:]
    seq.sampler.rollback(dropped)
    seq.n_generated = position
    seq.req.completion_tokens -= dropped
    seq.n_past = keep - 1  # the last kept token is decoded again: logits for `position`
    if not memory.seq_rm(seq.seq_id, keep - 1 - seq.req.pos_shift, -1):
        raise EngineError("llama.cpp could not remove KV cells to backtrack (bad_words)")
    return dropped


def backtrack(seq: Seq, memory: KvMemory, position: int, limit: int = MAX_BACKTRACKS
              ) -> int | None:
    """Rewind to `position` and ban the token that was generated there. Returns the number of
    tokens dropped, or None when the sequence may not backtrack any more (its budget is
    spent): the tokens from `position` on are still dropped, and the caller ends it."""
    token = seq.tokens[seq.prompt_len + position]
    dropped = rewind(seq, memory, position)
    if seq.backtracks >= limit:
        return None
    seq.sampler.ban(position, token)
    seq.backtracks += 1
    return dropped


def dead_end_position(seq: Seq) -> int | None:
    """Every token at the current position is banned: the position to backtrack to (the one
    before, while it is still held back), or None when there is none."""
    position = seq.n_generated - 1
    if seq.guard is None or position < 0 or not seq.guard.holds(position):
        return None
    return position
