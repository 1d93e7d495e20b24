"""Fixtures for the tools tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from openmini.types import ChoiceFinished, Done, Event, TextDelta, Usage

Chunked = Callable[[str, int], tuple[Callable[[Any], AsyncIterator[Event]], list[str]]]


@pytest.fixture
def chunked() -> Chunked:
    """`chunked(text, size)`: a backend that streams `text` in `size`-character deltas, and
    the list of the deltas it has sent so far (to tell when an event came out)."""

    def make(text: str, size: int) -> tuple[Callable[[Any], AsyncIterator[Event]], list[str]]:
        sent: list[str] = []

        async def generate(req: Any) -> AsyncIterator[Event]:
            for i in range(0, len(text), size):
                sent.append(text[i:i + size])
                yield TextDelta(0, sent[-1], (7,))
            yield ChoiceFinished(0, "stop")
            yield Done(Usage(3, len(sent)))

        return generate, sent

    return make
