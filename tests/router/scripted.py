"""A scripted deployment for the router's tests: injects the failures a real backend cannot
be made to produce on demand (a 429 with Retry-After, a 5xx, a death mid-stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from openmini.backends.base import BackendStats, Capabilities
from openmini.types import ChoiceFinished, Done, Event, Request, TextDelta, Usage


@dataclass
class Scripted:
    """Serves `ids`; each call takes the next of `failures` (None: answer `text`), raised
    before the first event, or after it when `mid_stream`."""

    ids: tuple[str, ...]
    text: str = "ok"
    failures: list[Exception | None] = field(default_factory=list)
    mid_stream: bool = False
    delay: float = 0.0
    capabilities: Capabilities = field(default_factory=Capabilities)
    calls: list[Request] = field(default_factory=list)
    closed_streams: int = 0

    def model_ids(self) -> list[str]:
        return list(self.ids)

    def stats(self) -> BackendStats:
        return BackendStats(running=1)

    async def count_tokens(self, request: Request) -> int:
        return 5

    async def close(self) -> None:
        pass

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        self.calls.append(request)
        failure = self.failures.pop(0) if self.failures else None
        try:
            if failure is not None and not self.mid_stream:
                raise failure
            if self.delay:
                await asyncio.sleep(self.delay)
            yield TextDelta(index=0, text=self.text, token_ids=(1,))
            if failure is not None:
                raise failure
            yield ChoiceFinished(index=0, finish_reason="stop")
            yield Done(usage=Usage(prompt_tokens=3, completion_tokens=1))
        finally:
            self.closed_streams += 1
