"""Does a declared tool fit the request? The model's own yes/no, read before the call/text decision.

The first token's share of prose (tools/decision.py) tells a call from a text answer only so
far: on BFCL's irrelevance cases Qwen2.5-Coder-0.5B puts most of its first token on a call
opening for a third of them, where the same model asked outright ("Can one of the provided
functions be called to answer my request? Reply with only yes or no.") leans to "no" more
than it does on the cases a tool fits. On the tuning split (cases 30-59) the probe's yes share
alone ranks a call case above an irrelevance case 92% of the time (ROC AUC 0.920; the prose
share 0.867), and within a class the two are hardly correlated, so together they decide
better than either (docs/tools.md, step 3).

The probe is the request's own conversation and tools with that question as one more user
turn, evaluated for one token (greedy, nothing returned to the client). It shares the prompt's
prefix up to the end of the last message, so with the prefix cache the answer's own prompt
then costs only its last few tokens: the probe adds its ~30 tokens and one decode step.
`FitReader` reads the share of "yes" among the yes and no tokens from that token's logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

QUESTION = ("Can one of the provided functions be called to answer my request? "
            "Reply with only yes or no.")
YES = ("yes", "Yes", "YES", " yes", " Yes")
NO = ("no", "No", "NO", " no", " No")


def answer_ids(tokenize: Callable[[str], list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The first token of each spelling of yes and of no (distinct ids)."""
    def first(words: Sequence[str]) -> np.ndarray:
        return np.array(sorted({ids[0] for w in words if (ids := tokenize(w))}), dtype=np.int64)

    yes, no = first(YES), first(NO)
    if not yes.size or not no.size or np.intersect1d(yes, no).size:
        raise ValueError("the vocabulary does not spell yes and no apart")
    return yes, no


class FitReader:
    """A logits processor for the probe's one token: `share` is P(yes) / (P(yes) + P(no))."""

    def __init__(self, yes: np.ndarray, no: np.ndarray) -> None:
        self._yes, self._no = yes, no
        self.share: float | None = None

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        if self.share is not None:
            return
        both = np.concatenate([self._yes, self._no])
        row = logits[both].astype(np.float64)
        if not np.isfinite(row).any():
            return
        weights = np.exp(row - row.max())
        self.share = float(weights[:self._yes.size].sum() / weights.sum())

    def accept(self, token: int) -> None:
        return None
