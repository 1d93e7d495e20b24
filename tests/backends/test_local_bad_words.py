"""bad_words on the real `tiny` model: phrases the greedy model writes are backtracked out,
matched case-insensitively, alone, with n > 1, with a grammar, and beside other requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.decoding.constraint import Constraint
from openmini.pipeline import Completion, collect
from openmini.types import ChatMessage, Request, SamplingParams, TextDelta

pytestmark = pytest.mark.model

CATS = "Tell me about cats."  # greedy: "Cats are incredibly intelligent ..."
SEA = "Describe the sea in two sentences."  # greedy: "The sea is a vast, ..."


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    b = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=4, ctx_size=1024,
                                  prefix_cache_tokens=4096))
    yield b
    asyncio.run(b.close())


def chat(text: str, n: int = 1, constraint: Constraint | None = None, **sampling: object
         ) -> Request:
    params = replace(SamplingParams(max_tokens=24, temperature=0), **sampling)  # type: ignore[arg-type]
    return Request(model="tiny", messages=(ChatMessage("user", text),), n=n, sampling=params,
                   constraint=constraint)


async def run(b: LocalBackend, req: Request) -> Completion:
    return await collect(b.generate(req), req.n)


async def backtracks(b: LocalBackend, req: Request) -> tuple[Completion, int]:
    before = b.engine.stats.backtracks
    out = await run(b, req)
    return out, b.engine.stats.backtracks - before


async def test_phrase_is_backtracked_out_case_insensitively(backend: LocalBackend) -> None:
    free = await run(backend, chat(CATS))
    assert "cat" in free.text.casefold()  # the model does write it
    out, n = await backtracks(backend, chat(CATS, bad_words=("cAT",)))
    assert "cat" not in out.text.casefold()
    assert n > 0
    choice = out.choices[0]
    assert backend.model.detokenize(choice.token_ids) == out.text  # ids: only kept tokens
    eos = 1 if choice.finish_reason == "stop" else 0
    assert out.usage.completion_tokens == len(choice.token_ids) + eos


async def test_text_before_the_phrase_is_kept_and_streamed_once(backend: LocalBackend) -> None:
    free = await run(backend, chat(SEA))
    assert free.text.startswith("The sea")
    deltas: list[str] = []
    async for ev in backend.generate(chat(SEA, bad_words=("SEA",))):
        if isinstance(ev, TextDelta):
            deltas.append(ev.text)
    text = "".join(deltas)
    assert text.startswith("The ") and "sea" not in text.casefold()


async def test_each_choice_backtracks_on_its_own(backend: LocalBackend) -> None:
    req = chat(CATS, n=2, temperature=0.8, seed=5, bad_words=("cat", "feline"))
    out, n = await backtracks(backend, req)
    assert n > 0
    for choice in out.choices:
        assert "cat" not in choice.text.casefold() and "feline" not in choice.text.casefold()
    assert out.choices[0].text != out.choices[1].text
    assert out.usage.completion_tokens >= sum(len(c.token_ids) for c in out.choices)


async def test_with_a_grammar_the_matcher_rolls_back(backend: LocalBackend) -> None:
    colours = Constraint.choice(["red", "green", "blue"], "structured_outputs.choice")
    question = "What is your favourite colour?"
    free = await run(backend, chat(question, constraint=colours))
    assert free.text == "red"
    out, n = await backtracks(backend, chat(question, constraint=colours, bad_words=("Red",)))
    assert out.text in {"green", "blue"} and n > 0
    assert out.choices[0].finish_reason == "stop"
    every = await run(backend, chat(question, constraint=colours,
                                    bad_words=("red", "green", "blue")))
    assert every.text == "" and every.choices[0].finish_reason == "content_filter"


async def test_other_requests_in_the_batch_are_not_filtered(backend: LocalBackend) -> None:
    banned, plain = await asyncio.gather(run(backend, chat(CATS, bad_words=("cat",))),
                                         run(backend, chat(CATS)))
    assert "cat" not in banned.text.casefold()
    assert "cat" in plain.text.casefold()
    assert plain.usage.completion_tokens == len(plain.choices[0].token_ids) + (
        plain.choices[0].finish_reason == "stop")
