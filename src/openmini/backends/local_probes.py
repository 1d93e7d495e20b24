"""The local backend's probes: prompts evaluated on its own engine for what the tool
decision needs (backends/local_decision.py), nothing returned to a client. They belong to
the backend that owns the engine: the tools/ modules hold what is asked and how the logits
are read (tools/relevance.py, tools/repeat.py), never an engine.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from openmini.tools.relevance import FitReader
from openmini.tools.repeat import ForcedScore
from openmini.types import SamplingParams

if TYPE_CHECKING:
    from openmini.engine.engine import Engine
    from openmini.engine.images import ImageSpan


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


async def ask(engine: Engine, prompt: list[int], answers: tuple[np.ndarray, np.ndarray],
              priority: int, deadline: float | None, arrival: int,
              images: tuple[ImageSpan, ...] = ()) -> float | None:
    """The relevance probe: evaluate its prompt (ending in tools/relevance.QUESTION) for one
    greedy token; the yes share, or None where the engine gave no logits (failed or
    cancelled). `arrival`: its place in the queue, which the answer then shares (it is not
    put behind requests that came while the probe ran)."""
    reader = FitReader(*answers)
    await probe(engine, "fit", prompt, [reader], 1, priority, deadline, arrival, images)
    return reader.share


async def repeat_share(engine: Engine, prompt: list[int], continuations: list[list[int]],
                       priority: int, deadline: float | None, arrival: int,
                       images: tuple[ImageSpan, ...] = ()) -> float:
    """The probability that the model, once it has opened a call (the tag ends `prompt`),
    writes one of `continuations` (tools/repeat.py); 0 where the engine gave no scores."""
    scores = await asyncio.gather(*(_score(engine, prompt, tokens, priority, deadline, arrival,
                                           images) for tokens in continuations))
    return min(1.0, sum(math.exp(s) for s in scores if s is not None))


async def _score(engine: Engine, prompt: list[int], tokens: list[int], priority: int,
                 deadline: float | None, arrival: int, images: tuple[ImageSpan, ...]
                 ) -> float | None:
    scorer = ForcedScore(tokens)
    await probe(engine, "repeat", prompt, [scorer], len(tokens), priority, deadline, arrival,
                images)
    return scorer.logprob if scorer.steps == len(tokens) else None
