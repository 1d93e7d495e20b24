"""The local backend on the real `tiny` model: batching, forks, stops, cache, cancel, queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.errors import ContextLengthExceeded, DeadlineExceeded, InvalidRequest, Overloaded
from openmini.pipeline import Completion, collect
from openmini.types import ChatMessage, Request, SamplingParams, TextDelta

pytestmark = pytest.mark.model


def make(**engine: object) -> LocalBackend:
    base = EngineConfig(model="tiny", threads=2, parallel=4, ctx_size=1024,
                        prefix_cache_tokens=4096)
    return LocalBackend(replace(base, **engine))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    b = make()
    yield b
    asyncio.run(b.close())


def chat(text: str, n: int = 1, **sampling: object) -> Request:
    return Request(model="tiny", messages=(ChatMessage("user", text),), n=n,
                   sampling=replace(SamplingParams(max_tokens=24), **sampling))  # type: ignore[arg-type]


async def run(b: LocalBackend, req: Request) -> Completion:
    return await collect(b.generate(req), req.n)


async def test_greedy_is_deterministic(backend: LocalBackend) -> None:
    a = await run(backend, chat("Name three colours.", temperature=0))
    b = await run(backend, chat("Name three colours.", temperature=0))
    assert a.text and a.text == b.text
    assert a.usage.completion_tokens == len(a.choices[0].token_ids) or a.choices[0].finish_reason


async def test_seed_repeats_and_differs(backend: LocalBackend) -> None:
    req = chat("Write a short poem about rain.", temperature=1.0, seed=11, max_tokens=32)
    a, b = await run(backend, req), await run(backend, req)
    c = await run(backend, replace(req, sampling=replace(req.sampling, seed=12)))
    assert a.text == b.text
    assert c.text != a.text


async def test_n_choices_fork_from_one_prompt(backend: LocalBackend) -> None:
    out = await run(backend, chat("Tell me a joke.", n=3, temperature=1.0, seed=3,
                                  max_tokens=16, ignore_eos=True))
    assert [c.finish_reason for c in out.choices] == ["length"] * 3
    assert out.usage.completion_tokens == 48
    assert len({c.text for c in out.choices}) > 1  # seeds seed+i give different choices


async def test_max_tokens_gives_length(backend: LocalBackend) -> None:
    out = await run(backend, chat("Count upwards from one.", max_tokens=7, ignore_eos=True,
                                  temperature=0))
    assert out.choices[0].finish_reason == "length"
    assert out.usage.completion_tokens == 7 == len(out.choices[0].token_ids)


async def test_stop_string_cuts_and_is_not_emitted(backend: LocalBackend) -> None:
    free = await run(backend, chat("Describe the sea in two sentences.", temperature=0,
                                   max_tokens=40))
    words = free.text.split()
    assert len(words) > 4
    stop = words[3]
    cut = await run(backend, chat("Describe the sea in two sentences.", temperature=0,
                                  max_tokens=40, stop=(stop,)))
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].stop_reason == stop
    assert stop not in cut.text
    assert free.text.startswith(cut.text)


async def test_prefix_cache_reuses_prompt(backend: LocalBackend) -> None:
    system = "You are a terse assistant. " * 40
    first = Request(model="tiny", messages=(ChatMessage("system", system),
                                            ChatMessage("user", "Say hi.")),
                    sampling=SamplingParams(max_tokens=4, temperature=0))
    second = replace(first, messages=(ChatMessage("system", system),
                                      ChatMessage("user", "Say bye.")))
    a = await run(backend, first)
    b = await run(backend, second)
    assert a.usage.cached_tokens < 50
    assert b.usage.cached_tokens > 200
    assert b.usage.cached_tokens < b.usage.prompt_tokens
    assert backend.engine.cache.hit_rate() > 0


async def test_concurrent_requests_share_a_batch(backend: LocalBackend) -> None:
    seen: list[int] = []

    async def one(i: int) -> Completion:
        events = []
        async for ev in backend.generate(chat(f"Story number {i}.", max_tokens=24,
                                              ignore_eos=True, temperature=0)):
            seen.append(backend.engine.stats.last_batch_seqs)
            events.append(ev)

        async def replay():  # type: ignore[no-untyped-def]
            for e in events:
                yield e
        return await collect(replay())

    outs = await asyncio.gather(*(one(i) for i in range(4)))
    assert all(o.usage.completion_tokens == 24 for o in outs)
    assert max(seen) >= 2


async def test_cancel_frees_the_sequence_at_once(backend: LocalBackend) -> None:
    engine = backend.engine
    stream = backend.generate(chat("Write forever.", max_tokens=900, ignore_eos=True))
    got = 0
    async for ev in stream:
        if isinstance(ev, TextDelta):
            got += 1
            if got == 3:
                break
    await stream.aclose()
    before = engine.stats.tokens_generated
    deadline = time.monotonic() + 5
    while engine.scheduler.running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not engine.scheduler.running
    assert engine.stats.tokens_generated - before <= 2  # at most the step in flight


async def test_logprobs_are_reported(backend: LocalBackend) -> None:
    out = await run(backend, chat("Hi!", temperature=0, logprobs=True, top_logprobs=3,
                                  max_tokens=5, ignore_eos=True))
    lps = out.choices[0].logprobs
    assert lps is not None and len(lps) == 5
    for lp in lps:
        assert lp.logprob <= 0.0
        assert len(lp.top) == 3
        assert lp.top[0].logprob == pytest.approx(lp.logprob, abs=1e-5)  # greedy = top-1


async def test_too_long_prompt_is_rejected(backend: LocalBackend) -> None:
    with pytest.raises(ContextLengthExceeded):
        await run(backend, chat("word " * 2000))
    with pytest.raises(ContextLengthExceeded):
        await run(backend, chat("hi", max_tokens=5000))
    with pytest.raises(InvalidRequest):
        await run(backend, chat("hi", n=9))


async def test_priority_deadline_and_queue_bound() -> None:
    b = make(parallel=1, max_queue=2)
    try:
        blocker = asyncio.create_task(run(b, chat("Go on.", max_tokens=60, ignore_eos=True)))
        await asyncio.sleep(0.2)
        order: list[str] = []

        async def tagged(tag: str, prio: int) -> None:
            await run(b, replace(chat("x", max_tokens=2, ignore_eos=True), priority=prio))
            order.append(tag)

        low = asyncio.create_task(tagged("low", 5))
        await asyncio.sleep(0.05)
        high = asyncio.create_task(tagged("high", 0))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded):
            await run(b, chat("one too many"))
        await asyncio.gather(blocker, low, high)
        assert order == ["high", "low"]
        blocker = asyncio.create_task(run(b, chat("Go on.", max_tokens=60, ignore_eos=True)))
        await asyncio.sleep(0.2)
        late = replace(chat("x"), deadline=time.monotonic() + 0.05)
        with pytest.raises(DeadlineExceeded):
            await run(b, late)
        await blocker
    finally:
        await b.close()


async def test_sequence_ids_do_not_leak(backend: LocalBackend) -> None:
    pool = backend.engine.scheduler.pool
    for i in range(30):
        await run(backend, chat(f"Quick {i}", max_tokens=2))
    assert not backend.engine.scheduler.running
    assert pool.available() == backend.model.settings.n_seq_max


async def test_the_same_prompt_again_reuses_its_entry_without_growing_the_cache() -> None:
    b = make(prefix_cache_tokens=2048)
    try:
        req = chat("Write a limerick about a cat.", temperature=1.0, seed=9, max_tokens=40,
                   ignore_eos=True)
        sizes, cached = [], []
        for seed in (1, 2, 3):  # different continuations of one prompt
            out = await run(b, replace(req, sampling=replace(req.sampling, seed=seed)))
            sizes.append(b.engine.cache.size_tokens)
            cached.append(out.usage.cached_tokens)
        n_prompt = out.usage.prompt_tokens
        assert cached == [0, n_prompt - 1, n_prompt - 1]
        assert max(sizes) <= n_prompt + 40  # the old continuation was dropped, not kept
        assert len(b.engine.cache.entries) == 1
    finally:
        await b.close()


async def test_a_batch_size_below_the_sequence_ids_still_serves() -> None:
    """llama.cpp aborts the process when n_batch < n_seq_max: a small batch_size is raised
    to the sequence ids the backend opens (2 * parallel + 16), never passed through."""
    b = make(batch_size=8, parallel=1, prefix_cache_tokens=0)
    try:
        assert b.model.settings.n_batch >= b.model.settings.n_seq_max
        out = await run(b, chat("Hi"))
        assert out.text
    finally:
        await b.close()


def test_continue_final_leaves_the_assistant_message_open(backend: LocalBackend) -> None:
    messages = (ChatMessage("user", "Count to five."), ChatMessage("assistant", "1, 2,"))
    closed, _ = backend._prompt_text(Request(model="tiny", messages=messages))
    opened, _ = backend._prompt_text(Request(model="tiny", messages=messages,
                                             continue_final=True))
    assert opened.endswith("1, 2,") and closed.startswith(opened) and len(closed) > len(opened)


async def test_a_continued_answer_goes_on_from_the_partial_text(backend: LocalBackend) -> None:
    messages = (ChatMessage("user", "Count from 1 to 10, separated by commas."),
                ChatMessage("assistant", "1, 2, 3, 4,"))
    out = await run(backend, Request(model="tiny", messages=messages, continue_final=True,
                                     sampling=SamplingParams(max_tokens=8, temperature=0)))
    assert out.text.startswith(" 5, 6")  # a new turn answered 'The original sentence is...'

