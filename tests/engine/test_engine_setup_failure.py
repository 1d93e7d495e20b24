"""On the real `tiny` engine: a request whose logits processors cannot be built fails at once,
and the engine goes on serving (it used to hang: taken from the queue, never run or failed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.engine.sequence import next_arrival
from openmini.types import Failed, SamplingParams, TextDelta

pytestmark = pytest.mark.model


def test_a_broken_processor_factory_fails_its_request_only() -> None:
    backend = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=512))
    prompt = backend.model.tokenize("Hello", add_special=True)

    def broken(index: int) -> Any:
        raise TypeError("bad processor")

    async def run(processors: Any) -> list[Any]:
        fields: dict[str, Any] = dict(request_id=f"r{next_arrival()}", prompt=prompt,
                                      params=SamplingParams(max_tokens=4, temperature=0),
                                      max_tokens=4, processors=processors, n=2)
        return [event async for event in backend.engine.generate(fields)]

    async def main() -> tuple[list[Any], list[Any]]:
        try:
            failed = await asyncio.wait_for(run(broken), 60)
            return failed, await asyncio.wait_for(run(None), 60)
        finally:
            await backend.close()

    failed, served = asyncio.run(main())
    assert [type(e) for e in failed] == [Failed]
    assert "bad processor" in str(failed[0].error)
    assert any(isinstance(e, TextDelta) and e.text for e in served)
