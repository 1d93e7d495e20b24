"""The streaming hermes splitter: any cut of the deltas gives the events the whole text gives."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from openmini.tools.jsonscan import BodyScanner, safe_cut
from openmini.tools.parsers.hermes import HermesParser
from openmini.tools.stream import (
    ArgumentsDelta,
    CallEnd,
    CallProblem,
    CallStart,
    ContentDelta,
    HermesStreamSplitter,
    StreamEvent,
    json_call_events,
)


@dataclass
class Assembled:
    content: str = ""
    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    def calls(self) -> list[tuple[str, Any]]:
        """The calls that ended well, arguments decoded (as a client would)."""
        broken = {index for index, _ in self.problems}
        return [(name, json.loads(args)) for i, (name, args)
                in enumerate(zip(self.names, self.arguments, strict=True)) if i not in broken]


def assemble(events: list[StreamEvent]) -> Assembled:
    """Rebuild the output from events, checking the protocol on the way."""
    out = Assembled()
    ended: set[int] = set()
    for event in events:
        if isinstance(event, ContentDelta):
            assert event.text
            out.content += event.text
        elif isinstance(event, CallStart):
            assert event.index == len(out.names)
            out.names.append(event.name)
            out.ids.append(event.id)
            out.arguments.append("")
        elif isinstance(event, ArgumentsDelta):
            assert event.index < len(out.names) and event.index not in ended and event.text
            out.arguments[event.index] += event.text
        elif isinstance(event, CallEnd):
            assert event.index < len(out.names) and event.index not in ended
            ended.add(event.index)
        else:
            assert event.index is None or event.index not in ended
            out.problems.append((event.index, event.message))
    assert ended == set(range(len(out.names))), "every started call ends"
    return out


def run(chunks: list[str]) -> list[StreamEvent]:
    ids = iter(f"call_{n}" for n in range(100))
    splitter = HermesStreamSplitter(lambda: next(ids))
    events: list[StreamEvent] = []
    for chunk in chunks:
        events += splitter.push(chunk)
    return events + splitter.finish()


def assert_matches_parser(text: str, chunks: list[str]) -> None:
    got = assemble(run(chunks))
    want = HermesParser().parse(text)
    assert (got.content or None) == want.content, chunks
    assert got.calls() == want.calls, chunks
    assert [message for _, message in got.problems] == want.problems, chunks


OUTPUTS = [
    '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris, France", '
    '"unit": "celsius"}}\n</tool_call>',
    "I'll check both.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": "
    "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
    "{\"timezone\": \"Asia/Tokyo\"}}\n</tool_call>",
    'a < b <tool_c x</tool_call> <tool_call>{"name":"f","arguments":{"q":"</tool_cal>"}}'
    '</tool_call> tail',
    '<tool_call>{"name": "search", "arguments": "{\\"q\\": \\"caf\\u00e9 \\ud83d\\ude00 '
    '\\\\n \\\\\\"x\\\\\\"\\"}"}</tool_call>',
    '<tool_call>\n{"arguments": {"nested": {"name": "decoy", "list": [1, {"a": "}"}]}}, '
    '"name": "late_name"}\n</tool_call>',
    '<tool_call>\n{"name": "ping"}\n</tool_call>',
    '<tool_call>\n{"name": "ping", "arguments": null}\n</tool_call>',
    '<tool_call>\n{"type": "function", "function": {"name": "get_time", "arguments": '
    '{"timezone": "UTC"}}}\n</tool_call>',
    '<tool_call>\n[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"x": 1}}]\n'
    '</tool_call>',
    'Trying:\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}\n'
    '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"timezone": "UTC"}}\n'
    '</tool_call>\nDone.',
    '<tool_call>\n{"arguments": {"x": 1}}\n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": 7}\n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": "{bad json"}\n</tool_call>',
    '<tool_call>\n{"name": 42, "arguments": {}}\n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": "{\\"x\\": \\"raw\nnewline\\"}"}</tool_call>',
    '<tool_call>{"name": "s", "arguments": "{\\"q\\": \\"\\ud83d lone\\"}"}</tool_call>',
    '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "UTC"}}\n',
    '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "UTC"}}\n</tool_ca',
    '<tool_call>\n{"name": "a", "arguments": {}}\n<tool_call>\n{"name": "b", "arguments": {}}',
    "Plain answer with no calls, ending in a half tag <tool_",
    "  The answer is 4.\n\n",
    "",
]


@pytest.mark.parametrize("text", OUTPUTS)
def test_every_single_split_position(text: str) -> None:
    for i in range(len(text) + 1):
        assert_matches_parser(text, [text[:i], text[i:]])


@pytest.mark.parametrize("text", OUTPUTS)
def test_char_by_char_and_random_cuts(text: str) -> None:
    assert_matches_parser(text, list(text))
    rng = random.Random(len(text))
    for _ in range(40):
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(1, 8))))
        assert_matches_parser(text, [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)],
                                                              strict=True)])


def test_every_pair_of_split_positions_around_the_tags() -> None:
    text = 'Hi <tool_call>{"name":"f","arguments":{"a":"<"}}</tool_call>!'
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert_matches_parser(text, [text[:i], text[i:j], text[j:]])


def test_events_in_order_with_ids() -> None:
    text = OUTPUTS[1]
    events = run(re.findall(r".{1,5}", text, re.DOTALL))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ContentDelta"
    assert kinds[-1] == "CallEnd"
    assert [e for e in events if isinstance(e, CallStart)] == [
        CallStart(0, "call_0", "get_weather"), CallStart(1, "call_1", "get_time")]
    out = assemble(events)
    assert out.content == "I'll check both."
    assert out.arguments == ['{"location": "Paris"}', '{"timezone": "Asia/Tokyo"}']


def test_default_ids_look_like_openais() -> None:
    splitter = HermesStreamSplitter()
    events = splitter.push(OUTPUTS[0]) + splitter.finish()
    (start,) = [e for e in events if isinstance(e, CallStart)]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", start.id)


def test_name_is_announced_before_arguments_and_arguments_stream() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x")
    assert splitter.push("<tool_call>\n") == []
    assert splitter.push('{"name": "get_wea') == []
    assert splitter.push('ther", "arguments": ') == [CallStart(0, "call_x", "get_weather")]
    assert splitter.push('{"location": "Par') == [ArgumentsDelta(0, '{"location": "Par')]
    assert splitter.push('is"}}\n</tool') == [ArgumentsDelta(0, 'is"}')]
    assert splitter.push("_call>") == [CallEnd(0)]
    assert splitter.finish() == []


def test_arguments_before_the_name_wait_for_it() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x")
    assert splitter.push('<tool_call>{"arguments": {"q": 1}, ') == []
    assert splitter.push('"name": "f"}') == [CallStart(0, "call_x", "f"),
                                             ArgumentsDelta(0, '{"q": 1}')]


def test_string_arguments_stream_decoded_without_cutting_escapes() -> None:
    raw = '<tool_call>{"name": "s", "arguments": "{\\"q\\": \\"\\ud83d\\ude00\\u00e9\\"}"}'
    for i in range(len(raw) + 1):
        out = assemble(run([raw[:i], raw[i:], "</tool_call>"]))
        assert out.arguments == ['{"q": "\U0001f600é"}']


def test_partial_tag_is_held_then_released_as_content() -> None:
    splitter = HermesStreamSplitter()
    assert splitter.push("x <tool_c") == [ContentDelta("x")]
    assert splitter.push("ar> y") == [ContentDelta(" <tool_car> y")]
    assert splitter.finish() == []


def test_whitespace_is_held_and_dropped_around_calls() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x")
    assert splitter.push("Checking.\n\n") == [ContentDelta("Checking.")]
    events = splitter.push('<tool_call>\n{"name": "ping"}\n</tool_call>\n')
    assert events == [CallStart(0, "call_x", "ping"), ArgumentsDelta(0, "{}"), CallEnd(0)]
    assert splitter.finish() == []


def test_text_without_calls_streams_through_exactly() -> None:
    text = "  Sure.\nThe answer is 4 < 5.\n\n"
    events = run(list(text))
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == text


def test_broken_block_never_started_is_a_problem_without_index() -> None:
    events = run(['<tool_call>\n{"arguments": {"x": 1}}\n</tool_call>'])
    assert events == [CallProblem(None, 'tool call 1: no function name in {"arguments": '
                                        '{"x": 1}}')]


def test_started_call_that_breaks_gets_a_problem_then_its_end() -> None:
    events = run(['<tool_call>\n{"name": "f", "arguments": {"x": 1\n</tool_call>'])
    assert [type(e) for e in events] == [CallStart, ArgumentsDelta, CallProblem, CallEnd]
    assert events[2] == CallProblem(0, events[2].message)
    assert events[2].message.startswith("tool call 1: invalid JSON")


def test_shapes_the_scanner_does_not_follow_are_emitted_at_block_end() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x")
    assert splitter.push('<tool_call>[{"name": "a", "arguments": {"x": "é"}}]') == []
    assert splitter.push("</tool_call>") == [
        CallStart(0, "call_x", "a"), ArgumentsDelta(0, '{"x": "é"}'), CallEnd(0)]


def test_unclosed_call_is_closed_by_finish() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x")
    events = splitter.push('<tool_call>\n{"name": "f", "arguments": {}}\n</tool_')
    assert events == [CallStart(0, "call_x", "f"), ArgumentsDelta(0, "{}")]
    assert splitter.finish() == [CallEnd(0)]


@pytest.mark.parametrize(("raw", "cut"), [
    ("plain", 5), ("a\\", 1), ("a\\n", 3), ("\\u00", 0), ("x\\u00e9", 7),
    ("\\ud83d", 0), ("\\ud83d\\", 0), ("\\ud83d\\ude0", 0), ("\\ud83d\\ude00!", 13),
    ("\\ud83d x", 8), ("\\\\\\", 2),
])
def test_safe_cut_never_splits_an_escape(raw: str, cut: int) -> None:
    assert safe_cut(raw) == cut


def test_scanner_ignores_what_is_not_one_object() -> None:
    scanner = BodyScanner()
    scanner.feed('[{"name": "a", "arguments": {"x": 1}}]')
    assert scanner.name is None and scanner.take_arguments() == ""


def test_scanner_stops_streaming_string_arguments_it_cannot_decode() -> None:
    scanner = BodyScanner()
    scanner.feed('{"name": "f", "arguments": "{\\"x\\": 1')
    assert scanner.take_arguments() == '{"x": 1'
    scanner.feed('\\q more"}')  # an invalid escape: the final parse reports the block
    assert scanner.take_arguments() == ""
    assert scanner.name == "f" and scanner.has_arguments


def test_prose_then_json_fence_streams_the_calls_in_it() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x", json_fence=True)
    assert splitter.push("Call it:\n\n``") == [ContentDelta("Call it:")]  # a half fence waits
    assert splitter.push('`json\n{"name": "ping", ') == []  # no arguments yet: not a call yet
    assert splitter.push('"arguments": {') == [CallStart(0, "call_x", "ping"),
                                                ArgumentsDelta(0, "{")]
    assert splitter.push('}}\n```') == [ArgumentsDelta(0, "}"), CallEnd(0)]
    assert splitter.finish() == []
    plain = HermesStreamSplitter(lambda: "call_x")  # without json_fence: content, as before
    events = plain.push('Call it:\n```json\n{"name": "ping", "arguments": {}}\n```')
    assert assemble(events + plain.finish()).calls() == []


def test_a_fence_after_a_tagged_call_is_not_read_as_one() -> None:
    splitter = HermesStreamSplitter(lambda: "call_x", json_fence=True)
    text = '<tool_call>\n{"name": "ping"}\n</tool_call>\n```json\n{"name": "pong"}\n```'
    out = assemble(splitter.push(text) + splitter.finish())
    assert out.names == ["ping"] and "pong" in out.content


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_json_written_calls_are_read_in_any_layout(indent: int | None) -> None:
    """The grammar lets a JSON-written call keep the model's indentation; what the client gets
    is the same call, its arguments re-serialised on one line."""
    call = {"name": "add", "arguments": {"a": 1, "b": [2, 3]}}
    listed = json.dumps([call], indent=indent)
    for text in (json.dumps(call, indent=indent), f"```json\n{listed}\n```"):
        assert json_call_events(text, lambda: "call_x") == [
            CallStart(0, "call_x", "add"),
            ArgumentsDelta(0, '{"a": 1, "b": [2, 3]}'),
            CallEnd(0),
        ]
