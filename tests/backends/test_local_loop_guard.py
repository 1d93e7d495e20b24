"""On the real `tiny` model: a constrained JSON string that would loop to max_tokens ends."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.decoding.constraint import Constraint
from openmini.pipeline import collect
from openmini.types import ChatMessage, Request, SamplingParams

pytestmark = pytest.mark.model
SCHEMA = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}


def test_sampled_json_strings_end_within_max_tokens() -> None:
    # Without the loop guard, seed 1 ran all 300 tokens inside the string, repeating one
    # phrase ("|Minesweeper 1895 (1912) (Wormell-Chelsea)") until cut off.
    backend = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=4, ctx_size=1024))

    async def run(seed: int) -> tuple[str | None, str]:
        req = Request(model="tiny", messages=(ChatMessage("user", "Write a long story as "
                                                                  "JSON."),),
                      sampling=replace(SamplingParams(max_tokens=300), temperature=0.7,
                                       seed=seed),
                      constraint=Constraint.json_schema(SCHEMA, "response_format"))
        done = await collect(backend.generate(req))
        return done.choices[0].finish_reason, done.text

    async def main() -> list[tuple[str | None, str]]:
        try:
            return list(await asyncio.gather(*(run(seed) for seed in range(4))))
        finally:
            await backend.close()

    for reason, text in asyncio.run(main()):
        assert reason == "stop", text[-200:]
        assert set(json.loads(text)) == {"story"}
