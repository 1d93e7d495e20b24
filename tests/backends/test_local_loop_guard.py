"""On the real `tiny` model: a constrained JSON string that would loop to max_tokens ends."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import jsonschema
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
        # the schema allows more properties: a sampled answer may add some (batching shifts
        # the samples); it must fit the schema, with its required story
        jsonschema.validate(json.loads(text), SCHEMA)


def test_prose_in_auto_tool_choice_is_left_to_the_model() -> None:
    # The loop guard steers a constrained output to an end in its last WRAP tokens: `"` where
    # almost anything may follow. In prose (an auto tool answer, where the output may end
    # anywhere) that wrote runs of quotes to max_tokens (`The response""\n\n""\n\n""...`,
    # `default`, issue 20). Prose is the model's own: the same text as with no tools at all.
    from openmini.tools.spec import ToolChoice, ToolSpec

    backend = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=1024))
    weather = ToolSpec("get_weather", "", {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]})
    ask = (ChatMessage("user", "Tell me a long story about a dragon."),)

    async def run(tools: bool) -> tuple[str | None, str]:
        req = Request(model="tiny", messages=ask, sampling=SamplingParams(max_tokens=48,
                                                                           temperature=0))
        if tools:
            req = replace(req, tools=(weather,), tool_choice=ToolChoice("auto"))
        done = await collect(backend.generate(req))
        return done.choices[0].finish_reason, done.text

    async def main() -> list[tuple[str | None, str]]:
        try:
            return [await run(False), await run(True)]
        finally:
            await backend.close()

    free, auto = asyncio.run(main())
    assert free[0] == "length"
    assert auto == free
    assert '""' not in auto[1]
