"""tools/json_stream.py: calls written as JSON stream as they are written."""

from __future__ import annotations

import json
from typing import Any

from openmini.pipeline import collect
from openmini.tools.json_stream import Compact, JsonCallStreamer
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.tools.stage import run_with_tools
from openmini.tools.stream import (
    ArgumentsDelta,
    CallEnd,
    CallProblem,
    CallStart,
    ContentDelta,
    StreamEvent,
)
from openmini.types import (
    ChatMessage,
    Request,
    ToolCallDelta,
)

ADD = ToolSpec("add", "", {"type": "object", "properties": {
    "a": {"type": "integer"}, "b": {"type": "array"}, "note": {"type": "string"}},
    "required": ["a"]})


def request(stream: bool = False) -> Request:
    return Request(model="m", messages=(ChatMessage("user", "add"),), tools=(ADD,),
                   tool_choice=ToolChoice("auto"), stream=stream)

CALLS = [{"name": "add", "arguments": {"a": 1, "note": "x,  y: \"z\""}},
         {"name": "add", "arguments": {"a": 2, "b": [1, 2]}}]
INDENTED = "```json\n" + json.dumps(CALLS, indent=2) + "\n```"


def stream(text: str, step: int = 1) -> list[StreamEvent]:
    streamer = JsonCallStreamer(lambda: "call_x")
    events: list[StreamEvent] = []
    for i in range(0, len(text), step):
        events += streamer.push(text[i:i + step])
    return events + streamer.finish()


def calls(events: list[StreamEvent]) -> list[tuple[str, str]]:
    names = {e.index: e.name for e in events if isinstance(e, CallStart)}
    args = {i: "".join(e.text for e in events if isinstance(e, ArgumentsDelta) and e.index == i)
            for i in names}
    return [(names[i], args[i]) for i in sorted(names)]


def test_an_indented_list_streams_call_by_call_compactly() -> None:
    for step in (1, 3, 7, len(INDENTED)):
        events = stream(INDENTED, step)
        assert calls(events) == [(c["name"], json.dumps(c["arguments"])) for c in CALLS]
        assert [type(e) for e in events if not isinstance(e, ArgumentsDelta)] == [
            CallStart, CallEnd, CallStart, CallEnd]
    events = stream(INDENTED)
    first_end = events.index(CallEnd(0))
    assert CallStart(1, "call_x", "add") in events[first_end:]  # the second after the first


def test_a_call_starts_once_its_arguments_begin() -> None:
    streamer = JsonCallStreamer(lambda: "call_x")
    assert streamer.push('{\n  "name": "add",\n  "arguments": ') == []
    assert streamer.push("{") == [CallStart(0, "call_x", "add"), ArgumentsDelta(0, "{")]
    assert streamer.push('\n    "a": 1\n  }\n}') == [ArgumentsDelta(0, '"a": 1}'), CallEnd(0)]
    assert streamer.finish() == []


def test_json_that_is_not_a_call_is_content_at_the_end() -> None:
    for text in ('{"answer": 3}', '{"name": "Bob", "age": 3, "arguments": {}}', "[1, 2]",
                 '```json\n{"a": 1}\n```'):
        assert stream(text) == [ContentDelta(text)], text


def test_arguments_written_as_a_string_are_decoded() -> None:
    text = '{"name": "add", "arguments": "{\\"a\\": 1}"}'
    assert calls(stream(text)) == [("add", '{"a": 1}')]


def test_a_call_cut_off_or_broken_is_a_problem_of_that_call() -> None:
    events = stream('[{"name": "add", "arguments": {"a": 1')
    assert calls(events) == [("add", '{"a": 1')]
    [problem] = [e for e in events if isinstance(e, CallProblem)]
    assert problem.index == 0 and "cut off" in problem.message
    events = stream('[{"name": "add", "arguments": {"a": 1}}, 7]')
    assert [e for e in events if isinstance(e, CallProblem)] == [
        CallProblem(None, "tool call list: unexpected '7' between calls")]


def test_compact_keeps_strings_as_written() -> None:
    compact = Compact()
    pieces = ['{\n  "k": "a, b:  \\"', 'c\\\\"', ',\n  "n":   [1,2]\n}']
    assert "".join(compact.feed(p) for p in pieces) == '{"k": "a, b:  \\"c\\\\", "n": [1, 2]}'


async def test_the_stage_streams_json_calls_before_the_output_ends(chunked: Any) -> None:
    generate, sent = chunked(INDENTED, 4)
    first: int | None = None
    async for event in run_with_tools(request(stream=True), generate, True, 0):
        if isinstance(event, ToolCallDelta) and first is None:
            first = len(sent)
    assert first is not None and first < len(INDENTED) // 4 // 2
    done = await collect(run_with_tools(request(), generate, False, 0))
    assert [(c.name, json.loads(c.arguments)) for c in done.choices[0].tool_calls] == [
        (c["name"], c["arguments"]) for c in CALLS]
    assert done.choices[0].finish_reason == "tool_calls" and done.choices[0].text == ""
