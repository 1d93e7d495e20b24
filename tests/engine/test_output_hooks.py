"""Hooks and stop criteria on the real `tiny` model, through the engine's step loop: each
token is seen before it is emitted and can be passed, replaced, held or end the choice; a
hook that raises ends the request with a clear error, not a dead stream."""

from __future__ import annotations

import re
import time

import pytest

from openmini.api import AsyncOpenMini
from openmini.hooks import HOLD, HookError, HookToken, release, replace, stop
from openmini.pipeline import collect

pytestmark = pytest.mark.model

PROMPT = "Tell me about cats in a few sentences."


@pytest.fixture(scope="module")
def om(tiny_om: AsyncOpenMini) -> AsyncOpenMini:
    return tiny_om


async def free(om: AsyncOpenMini, max_tokens: int = 48) -> str:
    return (await om.chat(PROMPT, max_tokens=max_tokens, temperature=0)).text


async def test_hook_sees_every_token_with_running_usage(om):
    seen: list[HookToken] = []
    out = await om.chat(PROMPT, max_tokens=20, temperature=0, hooks=[seen.append])
    assert len(seen) == out.usage.completion_tokens
    assert "".join(t.text for t in seen) == out.text  # passing changes nothing
    assert [t.usage.completion_tokens for t in seen] == list(range(1, len(seen) + 1))
    assert all(t.usage.prompt_tokens == out.usage.prompt_tokens for t in seen)
    assert all(not t.reasoning and t.token_id >= 0 for t in seen)
    assert [t.elapsed for t in seen] == sorted(t.elapsed for t in seen)


async def test_replace_rewrites_the_output(om):
    base = await free(om)
    out = await om.chat(PROMPT, max_tokens=48, temperature=0,
                        hooks=[lambda t: replace(t.text.upper())])
    assert out.text == base.upper()


async def test_hold_then_release_at_the_end_loses_nothing(om):
    base = await free(om)
    out = await om.chat(PROMPT, max_tokens=48, temperature=0, hooks=[lambda t: HOLD])
    assert out.text == base  # held to the end, then emitted


async def test_stop_ends_the_choice_at_once(om):
    def first_sentence(t: HookToken):
        text = t.held + t.text
        m = re.search(r"[.!?](\s|$)", text)
        if m and m.group(1):
            return stop(text[:m.start() + 1])
        return HOLD

    out = await om.chat(PROMPT, max_tokens=80, temperature=0, hooks=[first_sentence])
    base = await free(om, 80)
    choice = out.choices[0]
    assert choice.finish_reason == "stop" and choice.stop_reason == "first_sentence"
    assert out.text == base[:len(out.text)] and out.text.endswith((".", "!", "?"))
    assert out.usage.completion_tokens < 80


async def test_token_budget_hook(om):
    out = await om.chat(PROMPT, max_tokens=64, temperature=0,
                        hooks=[lambda t: stop(reason="budget")
                               if t.usage.completion_tokens >= 5 else None])
    assert out.usage.completion_tokens == 5 and out.choices[0].stop_reason == "budget"


async def test_redact_a_pattern_across_tokens(om):
    base = await free(om)
    word = next(w for w in re.findall(r"[A-Za-z]{5,}", base))

    def redact(t: HookToken):
        text = t.held + t.text
        if word in text:
            return replace(text.replace(word, "[X]"))
        keep = next((k for k in range(min(len(word) - 1, len(text)), 0, -1)
                     if text.endswith(word[:k])), 0)
        return release(len(text) - keep)  # a possible start of the word stays held

    out = await om.chat(PROMPT, max_tokens=48, temperature=0, hooks=[redact])
    assert word not in out.text and "[X]" in out.text
    assert out.text == base.replace(word, "[X]")


async def test_a_raising_hook_fails_the_request_clearly(om):
    calls = 0

    def boom(t: HookToken):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ValueError("no thanks")

    with pytest.raises(HookError, match=r"boom.*no thanks"):
        await om.chat(PROMPT, max_tokens=32, temperature=0, hooks=[boom])
    assert (await free(om, 8))  # the engine goes on serving


async def test_raising_hook_in_a_stream_ends_it_with_the_error(om):
    def boom(t: HookToken):
        raise RuntimeError("bad hook")

    with pytest.raises(HookError):
        async for _ in om.stream(PROMPT, max_tokens=16, hooks=[boom]):
            pass


async def test_stop_regex_across_tokens_not_emitted(om):
    base = await free(om)
    words = re.findall(r"[a-z]{6,}", base)
    target = words[1] if len(words) > 1 else words[0]
    out = await om.chat(PROMPT, max_tokens=48, temperature=0,
                        stop_regex=[re.escape(target[:4]) + r"[a-z]+"])
    choice = out.choices[0]
    assert choice.finish_reason == "stop" and choice.stop_reason.startswith(target[:4])
    assert out.text == base[:base.index(target[:4])]


async def test_max_sentences(om):
    out = await om.chat(PROMPT, max_tokens=96, temperature=0, max_sentences=1)
    choice = out.choices[0]
    assert choice.stop_reason == "max_sentences" and choice.finish_reason == "stop"
    assert out.text.rstrip()[-1] in ".!?" and out.text.count(". ") == 0


async def test_max_time_ends_with_length(om):
    start = time.monotonic()
    out = await om.chat(PROMPT, max_tokens=900, temperature=1.0, seed=1, ignore_eos=True,
                        max_time=0.3)
    choice = out.choices[0]
    assert choice.finish_reason == "length" and choice.stop_reason == "max_time"
    assert time.monotonic() - start < 5 and out.usage.completion_tokens < 900


async def test_hooks_see_reasoning_tokens_first(om):
    seen: list[HookToken] = []
    out = await om.chat("What is 2 + 2?", thinking_budget=20, max_tokens=60, temperature=0,
                        hooks=[seen.append])
    flags = [t.reasoning for t in seen]
    assert flags[0] and not flags[-1] and flags == sorted(flags, reverse=True)
    assert sum(flags) == out.usage.reasoning_tokens
    assert "".join(t.text for t in seen if t.reasoning).strip() == out.choices[0].reasoning


async def test_hooks_per_choice(om):
    seen: dict[int, int] = {}

    def count(t: HookToken):
        seen[t.index] = seen.get(t.index, 0) + 1

    out = await om.chat(PROMPT, n=2, max_tokens=12, temperature=1.0, seed=2, hooks=[count])
    assert sorted(seen) == [0, 1] and sum(seen.values()) == out.usage.completion_tokens
    assert await collect(om.events(om.request(PROMPT, max_tokens=4)))
