"""A scripted Backend for HTTP tests: records requests, can be overloaded, slow or failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from openmini.backends.base import BackendStats, Capabilities
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    Failed,
    FinishReason,
    ReasoningDelta,
    Request,
    TextDelta,
    TokenLogprob,
    TopLogprob,
    Usage,
)


def token_logprob(text: str, top: int) -> TokenLogprob:
    alternatives = tuple(
        TopLogprob(token=f"{text}#{k}", logprob=-1.0 - k, bytes=tuple(f"{text}#{k}".encode()))
        for k in range(top)
    )
    return TokenLogprob(token=text, logprob=-0.25, bytes=tuple(text.encode()), top=alternatives)


@dataclass
class FakeBackend:
    """Emits `pieces` for every choice (interleaved), then ChoiceFinished per choice and Done."""

    pieces: tuple[str, ...] = ("Hello", "", " world")
    # per request in turn, the pieces to answer with (then `pieces` again): a script
    answers: list[tuple[str, ...]] = field(default_factory=list)
    reasoning: tuple[str, ...] = ()  # reasoning pieces, emitted first
    finish_reason: FinishReason = "stop"
    stop_reason: str | int | None = None
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=7, completion_tokens=2,
                                                      cached_tokens=3))
    raise_before: Exception | None = None  # raised before the first event (e.g. Overloaded)
    fail_after_first: Exception | None = None  # a Failed event after the first delta
    delay: float = 0.0  # seconds before each delta
    forever: bool = False  # keep emitting deltas until cancelled
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(max_n=4))
    requests: list[Request] = field(default_factory=list)
    cancelled: bool = False
    closed: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def model_ids(self) -> list[str]:
        return ["fake"]

    def stats(self) -> BackendStats:
        return BackendStats(queue_depth=2, running=3, batch_size=5, cache_hit_tokens=30,
                            cache_lookup_tokens=40, tokens_generated=99)

    async def close(self) -> None:
        self.closed = True

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        self.requests.append(request)
        if self.raise_before is not None:
            raise self.raise_before
        self.started.set()
        finished = False
        try:
            async for event in self._script(request):
                finished = isinstance(event, Done)  # closing after Done is not a cancel
                yield event
        finally:
            self.cancelled = not finished

    async def _script(self, request: Request) -> AsyncIterator[Event]:
        top = request.sampling.top_logprobs
        for piece in self.reasoning:
            for index in range(request.n):
                yield ReasoningDelta(index=index, text=piece, token_ids=(0,))
        pieces = self.answers.pop(0) if self.answers else self.pieces
        step = 0
        while True:
            piece = pieces[step % len(pieces)]
            for index in range(request.n):
                if self.delay:
                    await asyncio.sleep(self.delay)
                logprobs = (token_logprob(piece, top),) if request.sampling.logprobs and piece \
                    else None
                yield TextDelta(index=index, text=piece, token_ids=(step,), logprobs=logprobs)
                if self.fail_after_first is not None:
                    yield Failed(self.fail_after_first)
                    return
            step += 1
            if step == len(pieces) and not self.forever:
                break
        for index in range(request.n):
            yield ChoiceFinished(index, self.finish_reason, self.stop_reason)
        yield Done(self.usage)
