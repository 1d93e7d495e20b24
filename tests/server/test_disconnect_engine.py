"""A client that disconnects ends its sequence within one decode step: counted on the real
`tiny` engine behind the real app (raw ASGI, so the disconnect moment is exact)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig, ServerConfig
from openmini.server.app import create_app

from .test_disconnect import call

pytestmark = pytest.mark.model

LONG = {"model": "tiny", "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": 900, "ignore_eos": True, "temperature": 1.0, "seed": 1}


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    b = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=1024,
                                  prefix_cache_tokens=1024, stream_interval_ms=0))
    yield b
    asyncio.run(b.close())


async def _disconnect_after_output(backend: LocalBackend, path: str, payload: dict[str, Any]
                                   ) -> tuple[int, int]:
    """Tokens generated when the server cancelled the sequence, and when it had left."""
    engine, at_cancel = backend.engine, []
    original = engine.cancel

    def cancel(req: Any) -> None:
        at_cancel.append(engine.stats.tokens_generated)
        original(req)

    engine.cancel = cancel  # type: ignore[method-assign]
    try:
        leave = asyncio.Event()

        async def leave_after_some_tokens() -> None:
            start = engine.stats.tokens_generated
            while engine.stats.tokens_generated < start + 20:
                await asyncio.sleep(0.002)
            leave.set()

        watcher = asyncio.create_task(leave_after_some_tokens())
        await call(create_app(ServerConfig(), backend), path, payload, leave)
        await watcher
        deadline = time.monotonic() + 60  # a hang guard: the assertions count tokens
        while engine.stats.running and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert engine.stats.running == 0
        return at_cancel[0], engine.stats.tokens_generated
    finally:
        engine.cancel = original  # type: ignore[method-assign]


@pytest.mark.parametrize("stream", [True, False])
async def test_disconnect_stops_decoding_within_one_step(backend, stream):
    cancelled_at, final = await _disconnect_after_output(
        backend, "/v1/chat/completions", {**LONG, "stream": stream})
    assert final - cancelled_at <= 1  # at most the step that was already decoding
    assert final < 200  # far from the 900 it asked for
