"""The `fim_check` pipeline stage: a middle that breaks the file's syntax is generated again.

Backend-agnostic: it works on the events of `generate` (the router's), never in the engine.
When prompt + suffix parses (code/fim.py), each choice's middle is checked once its
generation ends; the choices whose middle leaves the file unparsable are asked for again
(one request with `n` = how many failed), with another seed (the request's + the attempt,
or a random one) at a temperature of at least `RESAMPLE_TEMPERATURE`, up to
`FimCheck.attempts` generations a choice. Each choice keeps its first middle that parses,
else the one with the fewest syntax errors (its finish_reason as it was), and says so on its
`ChoiceFinished` (a `CodeReport`: the file's diagnostics with that middle in, empty when it
parses; `repairs`: the resamples it took), which the edge writes as `code_diagnostics` and
`code_repairs`. Usage counts every generation. Not streaming: the answer is whole when it
is sent (a streamed request with fim_check is a 400 at the edge). When the file does not
parse without a middle, the stream passes through untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from openmini.code.fim import RESAMPLE_TEMPERATURE, FileCheck, file_check
from openmini.types import (
    ChoiceFinished,
    CodeReport,
    Done,
    Event,
    Request,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    from openmini.pipeline import Choice, Completion

Generate = Callable[[Request], AsyncIterator[Event]]


@dataclass(slots=True)
class _Kept:
    choice: Choice
    errors: int
    tries: int = 1  # generations this choice took


async def run_with_fim_check(request: Request, generate: Generate) -> AsyncIterator[Event]:
    """The request's events, its middles checked (see the module docstring)."""
    assert request.fim_check is not None
    check = await asyncio.to_thread(file_check, request.prompt or "", request.suffix or "",
                                    request.fim_check)
    if check is None:  # the file did not parse before: nothing to keep
        stream = generate(request)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return
    for event in await best_middles(request, check, generate):
        yield event


async def best_middles(request: Request, check: FileCheck, generate: Generate) -> list[Event]:
    """Every choice's best middle, as the events of one whole answer."""
    from openmini.pipeline import generate_whole

    assert request.fim_check is not None
    kept: list[_Kept | None] = [None] * request.n
    pending = list(range(request.n))
    usage, seconds = Usage(), 0.0
    for attempt in range(max(1, request.fim_check.attempts)):
        asked = attempt_request(request, attempt, len(pending))
        completion = await generate_whole(generate, asked)
        usage, seconds = usage + completion.usage, seconds + completion.engine_seconds
        errors = await asyncio.to_thread(_errors, check, completion)
        for index, choice, count in zip(pending, completion.choices, errors, strict=True):
            best = kept[index]
            if best is None or count < best.errors:
                kept[index] = _Kept(choice, count, attempt + 1)
            else:
                best.tries = attempt + 1
        pending = [i for i in pending if (best := kept[i]) is None or best.errors > 0]
        if not pending:
            break
    reports = await asyncio.to_thread(_reports, check, kept)
    return [*_events(kept, reports), Done(usage, seconds)]


def attempt_request(request: Request, attempt: int, n: int) -> Request:
    """The request for one generation: the first as asked, a resample with another seed and
    a temperature of at least RESAMPLE_TEMPERATURE."""
    request = replace(request, n=n, stream=False)
    if attempt == 0:
        return request
    s = request.sampling
    sampling = replace(s, seed=None if s.seed is None else s.seed + attempt,
                       temperature=max(s.temperature, RESAMPLE_TEMPERATURE))
    return replace(request, sampling=sampling)


def _errors(check: FileCheck, completion: Completion) -> list[int]:
    return [check.errors(choice.text) for choice in completion.choices]


def _reports(check: FileCheck, kept: list[_Kept | None]) -> list[CodeReport]:
    """Per choice: the file's diagnostics with its middle in (none: it parses) and the
    resamples it took."""
    out = []
    for item in kept:
        assert item is not None
        found = check.diagnostics(item.choice.text) if item.errors else ()
        out.append(CodeReport(found, item.tries - 1))
    return out


def _events(kept: list[_Kept | None], reports: list[CodeReport]) -> list[Event]:
    out: list[Event] = []
    for index, (item, report) in enumerate(zip(kept, reports, strict=True)):
        assert item is not None
        c = item.choice
        logprobs = None if c.logprobs is None else tuple(c.logprobs)
        out.append(TextDelta(index, c.text, tuple(c.token_ids), logprobs))
        out.append(ChoiceFinished(index, c.finish_reason or "stop", c.stop_reason, report))
    return out
