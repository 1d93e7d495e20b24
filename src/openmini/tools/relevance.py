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

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from openmini.types import SamplingParams

if TYPE_CHECKING:
    from openmini.engine.engine import Engine
    from openmini.engine.images import ImageSpan

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


async def ask(engine: Engine, prompt: list[int], answers: tuple[np.ndarray, np.ndarray],
              priority: int, deadline: float | None, arrival: int,
              images: tuple[ImageSpan, ...] = ()) -> float | None:
    """Evaluate the probe's prompt (ending in QUESTION) for one greedy token; the yes share,
    or None where the engine gave no logits (failed or cancelled). `arrival`: its place in
    the queue, which the answer then shares (it is not put behind requests that came while
    the probe ran)."""
    reader = FitReader(*answers)
    await probe(engine, "fit", prompt, [reader], 1, priority, deadline, arrival, images)
    return reader.share


async def probe(engine: Engine, tag: str, prompt: list[int], processors: list[Any],
                n_tokens: int, priority: int, deadline: float | None, arrival: int,
                images: tuple[ImageSpan, ...] = ()) -> None:
    """Run `prompt` for `n_tokens` greedy tokens through `processors` (which read what they
    need from the logits), nothing returned to a client; `arrival`: its place in the queue,
    which the answer shares; `images`: the prompt's image spans (a native vision model)."""
    fields: dict[str, object] = dict(
        request_id=f"{tag}-{uuid.uuid4().hex}", prompt=prompt,
        params=SamplingParams(max_tokens=n_tokens, temperature=0.0, ignore_eos=True),
        max_tokens=n_tokens, processors=lambda _: processors, priority=priority,
        deadline=deadline, arrival=arrival, images=images)
    stream = engine.generate(fields)
    try:
        async for _ in stream:
            pass
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
