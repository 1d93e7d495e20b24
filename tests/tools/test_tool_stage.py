"""The tools stage: text -> content + tool-call deltas, validation, retry with feedback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from openmini.pipeline import Pipeline, collect
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.tools.stage import InvalidToolCall, run_with_tools
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Request,
    TextDelta,
    ToolCallDelta,
    Usage,
)

ADD = ToolSpec("add", "", {"type": "object", "properties": {"a": {"type": "integer"}},
                           "required": ["a"]})


def request(stream: bool = False, parallel: bool = True) -> Request:
    return Request(model="m", messages=(ChatMessage("user", "add"),), tools=(ADD,),
                   tool_choice=ToolChoice("auto"), stream=stream, parallel_tool_calls=parallel)


def scripted(*outputs: str):  # type: ignore[no-untyped-def]
    seen: list[Request] = []

    async def generate(req: Request) -> AsyncIterator[Event]:
        text = outputs[len(seen)]
        seen.append(req)
        for i in range(0, len(text), 5):  # cut anywhere, as tokens do
            yield TextDelta(0, text[i:i + 5], (7,))
        yield ChoiceFinished(0, "stop")
        yield Done(Usage(3, len(text)))

    return generate, seen


def call(args: str) -> str:
    return f'Let me add.\n<tool_call>\n{{"name": "add", "arguments": {args}}}\n</tool_call>'


async def test_valid_call_becomes_tool_calls() -> None:
    generate, _ = scripted(call('{"a": 1}'))
    done = await collect(run_with_tools(request(), generate, False, 1))
    choice = done.choices[0]
    assert choice.text == "Let me add."
    assert choice.finish_reason == "tool_calls"
    [tc] = choice.tool_calls
    assert tc.name == "add" and json.loads(tc.arguments) == {"a": 1}
    assert tc.id.startswith("call_")
    assert done.usage.completion_tokens == len(call('{"a": 1}'))


async def test_streamed_deltas_name_first_then_fragments() -> None:
    generate, _ = scripted(call('{"a": 12345}'))
    events = [e async for e in run_with_tools(request(stream=True), generate, True, 1)]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].id and deltas[0].name == "add" and deltas[0].arguments == ""
    assert all(d.id is None for d in deltas[1:]) and len(deltas) > 2
    assert json.loads("".join(d.arguments for d in deltas)) == {"a": 12345}


async def test_invalid_call_is_retried_with_feedback() -> None:
    generate, seen = scripted(call('{"a": "one"}'), call('{"a": 1}'))
    done = await collect(run_with_tools(request(), generate, False, 1))
    assert json.loads(done.choices[0].tool_calls[0].arguments) == {"a": 1}
    assert len(seen) == 2
    feedback = seen[1].messages[-1]  # type: ignore[index]
    assert feedback.role == "user" and "$.a: 'one' is not of type 'integer'" in feedback.content
    assert seen[1].messages[-2].content == call('{"a": "one"}')  # type: ignore[index]
    # usage counts both attempts
    assert done.usage.completion_tokens == len(call('{"a": "one"}')) + len(call('{"a": 1}'))
    assert done.usage.prompt_tokens == 6


async def test_retries_exhausted_is_a_clear_error() -> None:
    generate, seen = scripted(call('{"a": "x"}'), call('{"b": 2}'))
    with pytest.raises(InvalidToolCall) as err:
        await collect(run_with_tools(request(), generate, False, 1))
    assert "add (call 1)" in err.value.message and err.value.code == "invalid_tool_call"
    assert len(seen) == 2


async def test_streaming_invalid_call_ends_with_error() -> None:
    generate, _ = scripted(call('{"a": "x"}'))
    with pytest.raises(InvalidToolCall):
        await collect(run_with_tools(request(stream=True), generate, True, 3))


async def test_unknown_function_and_second_call_when_not_parallel() -> None:
    two = call('{"a": 1}') + "\n" + call('{"a": 2}').split("\n", 1)[1]
    generate, _ = scripted(two)
    with pytest.raises(InvalidToolCall, match="parallel_tool_calls"):
        await collect(run_with_tools(request(parallel=False), generate, False, 0))
    generate, _ = scripted(call('{"a": 1}').replace('"add"', '"sub"'))
    with pytest.raises(InvalidToolCall, match="unknown function"):
        await collect(run_with_tools(request(), generate, False, 0))


async def test_plain_text_answer_passes_through() -> None:
    generate, _ = scripted("It is 3.")
    done = await collect(run_with_tools(request(), generate, False, 1))
    assert done.choices[0].text == "It is 3." and done.choices[0].finish_reason == "stop"
    assert done.choices[0].tool_calls == []


async def test_call_cut_by_max_tokens_is_dropped_not_an_error() -> None:
    async def generate(req: Request) -> AsyncIterator[Event]:
        yield TextDelta(0, call('{"a": 1}') + '\n<tool_call>\n{"name": "add", "argu', (1,))
        yield ChoiceFinished(0, "length")
        yield Done(Usage(3, 9))

    done = await collect(run_with_tools(request(), generate, False, 1))
    assert done.choices[0].finish_reason == "length"
    assert [json.loads(c.arguments) for c in done.choices[0].tool_calls] == [{"a": 1}]


async def test_output_opening_as_json_is_a_call_streaming_or_not() -> None:
    bare = '{"name": "add", "arguments": {"a": 4}}'
    for text in (bare, f"```json\n{bare}\n```"):
        for stream in (False, True):
            generate, _ = scripted(text)
            done = await collect(run_with_tools(request(stream=stream), generate, stream, 0))
            [tc] = done.choices[0].tool_calls
            assert (tc.name, json.loads(tc.arguments)) == ("add", {"a": 4})
            assert done.choices[0].text == "" and done.choices[0].finish_reason == "tool_calls"


async def test_a_json_list_is_parallel_calls() -> None:
    one = '{"name": "add", "arguments": {"a": 1}}'
    generate, _ = scripted(f"```json\n[{one}, {one.replace('1', '2')}]\n```")
    done = await collect(run_with_tools(request(), generate, False, 0))
    assert [json.loads(c.arguments)["a"] for c in done.choices[0].tool_calls] == [1, 2]


async def test_json_that_is_not_a_call_stays_content() -> None:
    generate, _ = scripted('{"answer": 3}')
    done = await collect(run_with_tools(request(stream=True), generate, True, 0))
    assert done.choices[0].text == '{"answer": 3}' and not done.choices[0].tool_calls


async def test_tool_choice_none_never_reads_calls() -> None:
    class Backend:
        capabilities = None

        def model_ids(self) -> list[str]:
            return ["m"]

        def generate(self, req: Request) -> AsyncIterator[Event]:
            return scripted('{"name": "add", "arguments": {"a": 1}}')[0](req)

    req = replace(request(), tool_choice=ToolChoice("none"))
    done = await collect(Pipeline(Backend()).run(req))  # type: ignore[arg-type]
    assert done.choices[0].text.startswith('{"name"') and not done.choices[0].tool_calls
    assert done.choices[0].finish_reason == "stop"


async def test_usage_of_retried_attempts_keeps_their_reasoning_tokens() -> None:
    answers = iter([call('{"a": "x"}'), call('{"a": 2}')])  # invalid, then valid

    async def generate(req: Request) -> AsyncIterator[Event]:
        yield TextDelta(0, next(answers), (1,))
        yield ChoiceFinished(0, "stop")
        yield Done(Usage(3, 9, reasoning_tokens=4))

    done = await collect(run_with_tools(request(), generate, False, 1))
    assert done.usage.reasoning_tokens == 8 and done.usage.completion_tokens == 18


async def test_json_opening_is_content_when_a_response_format_is_set() -> None:
    from dataclasses import replace

    from openmini.decoding.constraint import Constraint

    answer = '{"reply": "no tool needed"}'
    generate, _ = scripted(answer)
    req = replace(request(), constraint=Constraint.json_schema({"type": "object"}, "x"))
    done = await collect(run_with_tools(req, generate, False, 0))
    assert done.choices[0].text == answer and done.choices[0].tool_calls == []
    assert done.choices[0].finish_reason == "stop"


async def test_prose_then_a_json_fence_is_content_then_calls() -> None:
    fence = '```json\n[{"name": "add", "arguments": {"a": 5}}]\n```'
    text = f"To add, call the function:\n\n{fence}"
    for stream in (False, True):
        generate, _ = scripted(text)
        done = await collect(run_with_tools(request(stream=stream), generate, stream, 0))
        [tc] = done.choices[0].tool_calls
        assert (tc.name, json.loads(tc.arguments)) == ("add", {"a": 5})
        assert done.choices[0].text == "To add, call the function:"
        assert done.choices[0].finish_reason == "tool_calls"
    # a fence of another language, or JSON that is not a call, stays content
    for other in ("Run:\n```python\nprint(1)\n```", 'See:\n```json\n{"a": 1}\n```'):
        generate, _ = scripted(other)
        done = await collect(run_with_tools(request(stream=True), generate, True, 0))
        assert done.choices[0].text == other and not done.choices[0].tool_calls


async def test_an_answer_opening_with_a_code_block_streams_as_content(chunked: Any) -> None:
    """Any fence but ```json opens prose: it streams as generated (held only while the
    opening could still be ```json), calls nothing, and ends as written."""
    text = "```python\ndef add(a, b):\n    return a + b\n```\nThat adds two numbers."
    generate, sent = chunked(text, 2)

    first_content: int | None = None
    streamed = ""
    async for event in run_with_tools(request(stream=True), generate, True, 0):
        if isinstance(event, TextDelta) and event.text:
            first_content = len(sent) if first_content is None else first_content
            streamed += event.text
    assert streamed == text
    assert first_content == 2  # "```p" already tells it is not ```json
    for opening in ("```", "```js", "```\nprint(1)"):  # cut off, or a bare code fence
        generate, _ = scripted(opening)
        done = await collect(run_with_tools(request(), generate, False, 0))
        assert done.choices[0].text == opening and not done.choices[0].tool_calls
