"""A constrained sequence must not loop until max_tokens.

Under a grammar a small model can fall into a cycle it cannot leave on its own: the same
phrase again and again inside an endless JSON string, an array that never closes. The grammar
keeps the output valid but not finite. `LoopGuard` runs after the grammar mask. When the last
WINDOW tokens have collapsed into a loop (few distinct tokens), every token that already
followed the current CONTEXT tokens inside the window is banned for this step, so the model
must take a path it has not taken yet: a new word, or the way out (closing the string, ending
the array). Variations of the cycle are caught too, because the test is on diversity, not on
an exact period. It never empties the allowed set: a token the grammar forces is left alone.

If the loop goes on anyway (ESCALATE interventions), the guard takes the way out itself when
the grammar offers one: only tokens that start with a `"` stay allowed, which inside a JSON
string ends the string (and the grammar decides what may follow). Output that loops is cut
short this way, still valid; output that does not loop is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW = 64  # tokens looked at
MAX_DISTINCT = 20  # at most this many distinct tokens in the window: a loop
CONTEXT = 3  # tokens of context whose earlier continuations are banned
ESCALATE = 16  # interventions after which a closing quote is taken when allowed


def looping(tail: Sequence[int]) -> bool:
    return len(tail) >= WINDOW and len(set(tail[-WINDOW:])) <= MAX_DISTINCT


def followers(tail: Sequence[int]) -> set[int]:
    """Tokens that followed the last CONTEXT tokens earlier in `tail`."""
    ctx = list(tail[-CONTEXT:])
    return {tail[i + CONTEXT] for i in range(len(tail) - CONTEXT)
            if list(tail[i:i + CONTEXT]) == ctx}


class LoopGuard:
    """Bans the continuations a looping output already used (reads the generated tokens, so
    it keeps no state to roll back)."""

    def __init__(self, quote_tokens: np.ndarray | None = None) -> None:
        self.interventions = 0
        self._quotes = quote_tokens  # ids of tokens whose text starts with '"'

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        if len(generated) < WINDOW:
            return
        tail = list(generated[-WINDOW:])
        if not looping(tail):
            return
        allowed = np.isfinite(logits)
        if self.interventions >= ESCALATE and self._close(logits, allowed):
            return
        banned = np.fromiter(followers(tail), dtype=np.int64)
        if banned.size and np.count_nonzero(allowed) > np.count_nonzero(allowed[banned]):
            logits[banned] = -np.inf
            self.interventions += 1

    def _close(self, logits: np.ndarray, allowed: np.ndarray) -> bool:
        """Keep only the allowed tokens that start with a quote, if there are any."""
        if self._quotes is None or not allowed[self._quotes].any():
            return False
        keep = np.zeros_like(allowed)
        keep[self._quotes] = True
        logits[~keep] = -np.inf
        self.interventions += 1
        return True

    def accept(self, token: int) -> None:
        pass
