"""Reasoning on the real `tiny` model (no native thinking tags): the budget is never exceeded
and an answer still follows, the split is the same streamed or not, effort none thinks not
at all, and constraints (JSON schema, tool calls, stop strings, bad_words) apply after it."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest

from openmini.api import AsyncOpenMini
from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest
from openmini.pipeline import collect
from openmini.types import ReasoningDelta, TextDelta

pytestmark = pytest.mark.model

QUESTION = "What is 17 + 25? Give the number."
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}},
          "required": ["answer"], "additionalProperties": False}


@pytest.fixture(scope="module")
def om(tiny_om: AsyncOpenMini) -> AsyncOpenMini:
    return tiny_om


@pytest.mark.parametrize(("budget", "seed"), [(16, 1), (24, 2), (40, 3), (64, 4)])
async def test_budget_is_never_exceeded_and_an_answer_follows(om, budget, seed):
    out = await om.chat(QUESTION, thinking_budget=budget, max_tokens=budget + 96,
                        temperature=1.0, seed=seed)
    choice = out.choices[0]
    assert 0 < out.usage.reasoning_tokens <= budget
    assert out.usage.reasoning_tokens <= out.usage.completion_tokens
    assert choice.reasoning.strip()
    assert choice.text.strip()  # the model went on to answer
    assert "</think>" not in choice.reasoning
    assert "<think>" not in choice.text and "</think>" not in choice.text  # no second block


async def test_effort_maps_to_the_budget(om):
    out = await om.chat(QUESTION, reasoning_effort="minimal", max_tokens=160, temperature=0)
    assert 0 < out.usage.reasoning_tokens <= 64


async def test_max_tokens_below_the_budget_still_leaves_an_answer(om):
    out = await om.chat(QUESTION, reasoning_effort="high", max_tokens=48, temperature=0)
    assert out.usage.reasoning_tokens <= 48 - 24
    assert out.choices[0].text.strip()


async def test_effort_none_gives_no_reasoning(om):
    plain = await om.chat(QUESTION, max_tokens=24, temperature=0)
    none = await om.chat(QUESTION, reasoning_effort="none", max_tokens=24, temperature=0)
    assert none.usage.reasoning_tokens == 0 and none.choices[0].reasoning == ""
    assert none.text == plain.text


async def test_streamed_split_equals_collected_and_reasoning_comes_first(om):
    kwargs = dict(thinking_budget=32, max_tokens=96, temperature=0)
    whole = await om.chat(QUESTION, **kwargs)
    request = replace(om.request(QUESTION, **kwargs), stream=True)
    events = [e async for e in om.events(request)]
    reasoning = [i for i, e in enumerate(events) if isinstance(e, ReasoningDelta) and e.text]
    answer = [i for i, e in enumerate(events) if isinstance(e, TextDelta) and e.text]
    assert reasoning and answer and max(reasoning) < min(answer)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == \
        whole.choices[0].reasoning
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == whole.text


async def test_json_schema_applies_to_the_answer_after_thinking(om):
    for seed in (1, 2, 3):
        out = await om.chat(QUESTION, thinking_budget=24, max_tokens=120, temperature=1.0,
                            seed=seed, constraint=Constraint.json_schema(SCHEMA, "x"))
        jsonschema.validate(json.loads(out.text), SCHEMA)
        assert out.choices[0].reasoning and out.usage.reasoning_tokens <= 24


async def test_each_choice_thinks_on_its_own(om):
    out = await om.chat(QUESTION, n=2, thinking_budget=20, max_tokens=80, temperature=1.0,
                        seed=5)
    assert all(c.reasoning and c.text.strip() for c in out.choices)
    assert 0 < out.usage.reasoning_tokens <= 2 * 20


async def test_tool_call_grammar_applies_after_thinking(om):
    tool = {"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"]}}}
    out = await om.chat("Add 17 and 25 with the tool.", tools=[tool], tool_choice="required",
                        parallel_tool_calls=False,
                        thinking_budget=24, max_tokens=160, temperature=0)
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.reasoning
    call = choice.tool_calls[0]
    assert call.name == "add" and set(json.loads(call.arguments)) == {"a", "b"}


async def test_stop_strings_apply_to_the_answer_only(om):
    out = await om.chat("List three fruits, one per line.", thinking_budget=40,
                        max_tokens=120, temperature=0, stop=["\n"])
    assert "\n" not in out.text
    assert out.usage.reasoning_tokens > 0


async def test_bad_words_hold_in_reasoning_and_answer(om):
    out = await om.chat(QUESTION, thinking_budget=40, max_tokens=120, temperature=0,
                        bad_words=["the"])
    assert "the" not in out.choices[0].reasoning.lower()
    assert "the" not in out.text.lower()


async def test_reasoning_needs_messages(om):
    with pytest.raises(InvalidRequest) as err:
        await collect(om.events(om.request(prompt="x", reasoning_effort="low")))
    assert err.value.param == "reasoning_effort"
