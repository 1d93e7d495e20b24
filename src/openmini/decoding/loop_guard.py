"""A constrained sequence must not loop until max_tokens.

Under a grammar a small model can fall into a cycle it cannot leave on its own: the same
phrase again and again inside an endless JSON string, an array that never closes. The grammar
keeps the output valid but not finite. `LoopGuard` runs after the grammar mask. When the last
WINDOW tokens have collapsed into a loop (few distinct tokens), every token that already
followed the current CONTEXT tokens inside the window is banned for this step, so the model
must take a path it has not taken yet: a new word, or the way out (closing the string, ending
the array). It never empties the allowed set: a token the grammar forces is left alone.

A loop is repetition, not merely few distinct tokens: indented JSON full of digits (Qwen writes
one token per digit) has as few distinct tokens as a loop, and treating it as one banned the
sixth `0` of `1200000` (BFCL multiple_12: the call said 12000). So the window must also repeat:
most tokens equal the one a period earlier (a cycle with substitutions: `Part IV`, `Part V`),
or most of its n-grams were already seen in it (a cycle with insertions). Counting lists
(`1, 2, ... 99`) are not loops by this test; the wrap-up below still ends them in time.

If the loop goes on anyway (ESCALATE interventions), or the output is about to reach
max_tokens (the last WRAP tokens), the guard steers it to an end the grammar allows: where
almost anything may follow (inside a string, or where a value starts) only a `"` (possibly
followed by closing brackets) stays allowed, elsewhere only closing brackets, when the grammar
allows any of them. A constrained output that would have been cut off as broken JSON ends valid
instead (finish_reason "stop"); output that neither loops nor runs long is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW = 64  # tokens looked at
MAX_DISTINCT = 20  # at most this many distinct tokens in the window: a loop
CONTEXT = 3  # tokens of context whose earlier continuations are banned
ESCALATE = 16  # interventions after which the guard steers to an end
WRAP = 32  # tokens before max_tokens from which the guard steers to an end
OPEN_CONTEXT = 1000  # more allowed tokens than this: free text (a string) or a value start
MAX_PERIOD = WINDOW // 2  # the longest cycle looked for, in tokens
PERIODIC = 0.8  # share of tokens equal to the one a period earlier: a cycle
NGRAM = 4
REPEATED = 0.6  # share of the window's NGRAM-grams already seen in it: a cycle


def looping(tail: Sequence[int]) -> bool:
    """The last WINDOW tokens are a cycle: few distinct tokens (cheap, tested first) that
    repeat with a period or as recurring n-grams."""
    if len(tail) < WINDOW:
        return False
    window = tail[-WINDOW:]
    return len(set(window)) <= MAX_DISTINCT and (
        periodicity(window) >= PERIODIC or repeated_ngrams(window) >= REPEATED)


def periodicity(tokens: Sequence[int]) -> float:
    """The largest share of tokens equal to the token p earlier, over periods 1..MAX_PERIOD
    (all periods at once: the equal pairs of the window, counted by their distance)."""
    a = np.asarray(tokens)
    top = min(MAX_PERIOD, a.size - 1)
    if top < 1:
        return 0.0
    earlier, later = np.nonzero(np.triu(a[:, None] == a[None, :], 1))
    counts = np.bincount(later - earlier, minlength=top + 1)[1:top + 1]
    return float(np.max(counts / (a.size - np.arange(1, top + 1))))


def repeated_ngrams(tokens: Sequence[int]) -> float:
    """The share of NGRAM-grams in `tokens` that already occurred earlier in it."""
    grams = [tuple(tokens[i:i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def followers(tail: Sequence[int]) -> set[int]:
    """Tokens that followed the last CONTEXT tokens earlier in `tail`."""
    ctx = list(tail[-CONTEXT:])
    return {tail[i + CONTEXT] for i in range(len(tail) - CONTEXT)
            if list(tail[i:i + CONTEXT]) == ctx}


class LoopGuard:
    """Bans the continuations a looping output already used (reads the generated tokens, so
    it keeps no state to roll back). `ends`: the end-of-generation tokens, which tell prose
    (see `process`)."""

    def __init__(self, quotes: np.ndarray | None = None, brackets: np.ndarray | None = None,
                 max_tokens: int | None = None, ends: np.ndarray | None = None) -> None:
        self.interventions = 0
        self._quotes = quotes  # ids of the tokens `"`, `"}`, `"]}`, ...
        self._brackets = brackets  # ids of the tokens `}`, `]`, `}]`, ...
        self._max_tokens = max_tokens
        self._ends = ends

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        """Prose (almost anything may follow, and so may the end: the text branch of an auto
        tool answer) is the model's own: no wrap-up, since a `"` there is no way out but
        the start of a run of them to max_tokens (`The response""\n\n""...`, issue 20); a
        loop's continuations are banned as elsewhere, and a loop that goes on ends there."""
        wrapping = self._max_tokens is not None and len(generated) >= self._max_tokens - WRAP
        if not wrapping and len(generated) < WINDOW:
            return
        allowed = np.isfinite(logits)
        prose = self._prose(allowed)
        if prose and len(generated) < WINDOW:
            return
        escalated = self.interventions >= ESCALATE
        if not prose and (wrapping or escalated) and self._steer(logits, allowed):
            return
        tail = list(generated[-WINDOW:])
        if not looping(tail):
            return
        if prose and escalated:
            self._keep(logits, self._ends)
            return
        banned = np.fromiter(followers(tail), dtype=np.int64)
        if banned.size and np.count_nonzero(allowed) > np.count_nonzero(allowed[banned]):
            logits[banned] = -np.inf
            self.interventions += 1

    def _prose(self, allowed: np.ndarray) -> bool:
        return (self._ends is not None and bool(allowed[self._ends].any())
                and bool(np.count_nonzero(allowed) > OPEN_CONTEXT))

    def _steer(self, logits: np.ndarray, allowed: np.ndarray) -> bool:
        """Keep only the allowed tokens that lead to an end, if there are any."""
        towards = self._quotes if np.count_nonzero(allowed) > OPEN_CONTEXT else self._brackets
        if towards is None or not towards.size or not allowed[towards].any():
            return False
        self._keep(logits, towards)
        return True

    def _keep(self, logits: np.ndarray, tokens: np.ndarray | None) -> None:
        if tokens is None:
            return
        keep = np.zeros(logits.shape, dtype=bool)
        keep[tokens] = True
        logits[~keep] = -np.inf
        self.interventions += 1

    def accept(self, token: int) -> None:
        pass
