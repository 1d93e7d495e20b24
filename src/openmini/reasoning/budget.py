"""The engine side of a thinking block: count its tokens, close it when the budget is spent.

`ThinkingBudget` plugs into the sampler's processor slot after the grammar mask. While the
block is open it counts every accepted token; as soon as only the closing tag still fits in
the budget it forces the tag's tokens one by one (every other logit is masked), so the block
ends on time and the model goes on to answer. The reported reasoning tokens (the closing tag
included) therefore never exceed the budget. A block stuck repeating itself (the same run of
tokens three times over) is closed the same way: more of it buys nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from openmini.reasoning.format import CLOSE
from openmini.reasoning.split import ThinkSplit

_CLOSE = CLOSE.encode()
MAX_PERIOD = 48  # longest repeated run looked for, in tokens
REPEATS = 3  # a run this many times in a row, at the end, is a loop
CHECK_EVERY = 8  # tokens between checks


def repeating(tokens: Sequence[int]) -> bool:
    """The tokens end with one run of 2..MAX_PERIOD tokens REPEATS times in a row."""
    t = list(tokens[-MAX_PERIOD * REPEATS:])
    for period in range(2, min(MAX_PERIOD, len(t) // REPEATS) + 1):
        last = t[-period:]
        if all(t[-(k + 1) * period:len(t) - k * period] == last for k in range(1, REPEATS)):
            return True
    return False


class ThinkingBudget:
    def __init__(self, budget: int, close_tokens: Sequence[int], piece: Callable[[int], bytes],
                 close_id: int | None = None, after: Sequence[int] = ()):
        if not close_tokens:
            raise ValueError("the closing tag has no tokens")
        self.budget = budget
        self.close_tokens = list(close_tokens)
        self.close_id = close_id  # native: the closing tag is this one token
        self.tokens = 0  # accepted while the block was open, the closing tag included
        self.closed = False
        self._piece = piece
        self._tail = b""  # the last bytes, for a tag spelled across tokens
        self._forced = 0  # tokens of the closing tag forced so far
        self._forcing = False
        self._after = list(after)  # forced after a forced tag ("\n\n"): the answer starts clean
        self._after_at = -1  # position in `after` while forcing it, else -1
        self._history: list[tuple[int, bool, bytes, int, int]] = []

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        self._forcing = not self.closed and (
            self._forced > 0 or self.tokens + len(self.close_tokens) >= self.budget
            or (self.tokens % CHECK_EVERY == 0 and self.tokens > 0
                and repeating(generated[len(generated) - self.tokens:])))
        token = self.close_tokens[self._forced] if self._forcing else (
            self._after[self._after_at] if 0 <= self._after_at < len(self._after) else -1)
        if token >= 0:
            logits[:] = -np.inf
            logits[token] = 0.0

    def accept(self, token: int) -> None:
        self._history.append((self.tokens, self.closed, self._tail, self._forced,
                              self._after_at))
        if self.closed:
            if 0 <= self._after_at < len(self._after) and token == self._after[self._after_at]:
                self._after_at += 1
            return
        self.tokens += 1
        if self._forcing and token == self.close_tokens[self._forced]:
            self._forced += 1
        if self.close_id is not None:
            self.closed = token == self.close_id
        else:
            seen = self._tail + self._piece(token)
            self.closed = _CLOSE in seen
            self._tail = seen[-(len(_CLOSE) - 1):]
        if self._forced == len(self.close_tokens):
            self.closed, self._after_at = True, 0

    def rollback(self, n: int) -> None:
        """Forget the last n accepted tokens (bad_words backtracking)."""
        if n <= 0:
            return
        self.tokens, self.closed, self._tail, self._forced, self._after_at = self._history[-n]
        del self._history[-n:]
        self._forcing = False


class AnswerOnly:
    """Runs a processor (the loop guard) only once the thinking block is closed."""

    def __init__(self, inner: object, budget: ThinkingBudget):
        self.inner = inner
        self.budget = budget

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        if self.budget.closed:
            self.inner.process(generated, logits)  # type: ignore[attr-defined]

    def accept(self, token: int) -> None:
        if self.budget.closed:
            self.inner.accept(token)  # type: ignore[attr-defined]

    def rollback(self, n: int) -> None:
        """Passed on to a processor that keeps state (it counts answer tokens only, so it
        clamps what reaches back into the thinking block)."""
        inner = getattr(self.inner, "rollback", None)
        if inner is not None:
            inner(n)


@dataclass(slots=True)
class Thinking:
    """One choice's thinking block: the budget in the sampler, the split in the emitter."""

    budget: ThinkingBudget
    split: ThinkSplit = field(default_factory=ThinkSplit)

    @property
    def tokens(self) -> int:
        return self.budget.tokens


def thinkings(budget: int, n: int, close_tokens: Sequence[int], piece: Callable[[int], bytes],
              close_id: int | None, after: Sequence[int] = ()) -> list[Thinking]:
    """One Thinking per choice. A budget too small for the closing tag and one thought is
    raised to that (budgets start at MIN_BUDGET, so it stays within what was asked)."""
    budget = max(budget, len(close_tokens) + 1)
    return [Thinking(ThinkingBudget(budget, close_tokens, piece, close_id, after),
                     ThinkSplit(close_id)) for _ in range(n)]
