"""Parsers split real-looking model output into content, calls and problems; never crash."""

from __future__ import annotations

import pytest

from openmini.tools.parsers import TOOL_PARSERS, ParsedOutput
from openmini.tools.parsers.bare import BareParser
from openmini.tools.parsers.fenced import FencedParser
from openmini.tools.parsers.hermes import HermesParser

PARIS = ("get_weather", {"location": "Paris, France", "unit": "celsius"})
TOKYO_TIME = ("get_time", {"timezone": "Asia/Tokyo"})


def hermes(text: str) -> ParsedOutput:
    return HermesParser().parse(text)


def fenced(text: str) -> ParsedOutput:
    return FencedParser().parse(text)


def bare(text: str) -> ParsedOutput:
    return BareParser().parse(text)


def test_registry_creates_each_parser_lazily() -> None:
    assert TOOL_PARSERS.names() == ["bare", "fenced", "hermes"]
    assert isinstance(TOOL_PARSERS.create("hermes"), HermesParser)
    assert isinstance(TOOL_PARSERS.create("fenced"), FencedParser)
    assert isinstance(TOOL_PARSERS.create("bare"), BareParser)
    with pytest.raises(KeyError, match="unknown tool parser 'xml'"):
        TOOL_PARSERS.get("xml")


# -- hermes ------------------------------------------------------------------------------

QWEN_ONE_CALL = """<tool_call>
{"name": "get_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}
</tool_call>"""

QWEN_TWO_CALLS_WITH_TEXT = """I'll check the weather in Paris and the time in Tokyo.

<tool_call>
{"name": "get_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}
</tool_call>
<tool_call>
{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}
</tool_call>"""


def test_hermes_single_call() -> None:
    assert hermes(QWEN_ONE_CALL) == ParsedOutput(None, [PARIS], [])


def test_hermes_several_calls_with_text_before() -> None:
    parsed = hermes(QWEN_TWO_CALLS_WITH_TEXT)
    assert parsed.content == "I'll check the weather in Paris and the time in Tokyo."
    assert parsed.calls == [PARIS, TOKYO_TIME]
    assert parsed.problems == []


def test_hermes_text_between_and_after_calls() -> None:
    text = ('First:\n<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}'
            '\n</tool_call>\nthen:\n<tool_call>{"name": "get_time", "arguments": {"timezone": '
            '"Asia/Tokyo"}}</tool_call>\nDone.\n')
    parsed = hermes(text)
    assert parsed.content == "First:\nthen:\nDone."
    assert parsed.calls == [TOKYO_TIME, TOKYO_TIME]


@pytest.mark.parametrize("text", [
    '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}</tool_call>',
    '<tool_call>{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}</tool_call>',
    '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n',  # never closed
    '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n</tool_',
    '<tool_call>\n{"name": "get_time",\n "arguments": {\n  "timezone": "Asia/Tokyo"\n }\n}\n'
    '</tool_call>\n\n',
    '<tool_call>\n{"arguments": {"timezone": "Asia/Tokyo"}, "name": "get_time"}\n</tool_call>',
    '<tool_call>\n{"name": "get_time", "arguments": "{\\"timezone\\": \\"Asia/Tokyo\\"}"}\n'
    '</tool_call>',
    '<tool_call>\n{"name": "get_time", "parameters": {"timezone": "Asia/Tokyo"}}\n</tool_call>',
    '<tool_call>\n{"type": "function", "function": {"name": "get_time", "arguments": '
    '{"timezone": "Asia/Tokyo"}}}\n</tool_call>',
])
def test_hermes_tolerated_variants(text: str) -> None:
    assert hermes(text) == ParsedOutput(None, [TOKYO_TIME], [])


def test_hermes_block_left_open_by_the_next_one() -> None:
    text = ('<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris, France", '
            '"unit": "celsius"}}\n<tool_call>\n{"name": "get_time", "arguments": {"timezone": '
            '"Asia/Tokyo"}}\n</tool_call>')
    assert hermes(text).calls == [PARIS, TOKYO_TIME]


def test_hermes_list_of_calls_in_one_block() -> None:
    text = ('<tool_call>\n[{"name": "get_weather", "arguments": {"location": "Paris, France", '
            '"unit": "celsius"}}, {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}]'
            '\n</tool_call>')
    assert hermes(text).calls == [PARIS, TOKYO_TIME]


@pytest.mark.parametrize("arguments", ['{}', 'null', '""', '"  "'])
def test_hermes_empty_or_missing_arguments_are_an_empty_object(arguments: str) -> None:
    text = f'<tool_call>\n{{"name": "list_files", "arguments": {arguments}}}\n</tool_call>'
    assert hermes(text).calls == [("list_files", {})]
    assert hermes('<tool_call>\n{"name": "list_files"}\n</tool_call>').calls == [
        ("list_files", {})]


def test_hermes_broken_json_is_a_problem_and_other_calls_survive() -> None:
    text = ('Checking both.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": '
            '"Paris, France", "unit": "celsius"}\n</tool_call>\n<tool_call>\n{"name": "get_time",'
            ' "arguments": {"timezone": "Asia/Tokyo"}}\n</tool_call>')
    parsed = hermes(text)
    assert parsed.content == "Checking both."
    assert parsed.calls == [TOKYO_TIME]
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("tool call 1: invalid JSON (Expecting ',' delimiter")
    assert '{"name": "get_weather"' in parsed.problems[0]


@pytest.mark.parametrize(("body", "says"), [
    ('{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}}', "Extra data"),
    ("", "Expecting value"),
    ('get_time(timezone="Asia/Tokyo")', "invalid JSON"),
    ('"get_time"', "expected a JSON object"),
    ("[1, 2]", "expected a JSON object"),
    ('{"arguments": {"timezone": "Asia/Tokyo"}}', "no function name"),
    ('{"name": "", "arguments": {}}', "no function name"),
    ('{"name": 42, "arguments": {}}', "no function name"),
    ('{"name": "get_time", "arguments": "{timezone: Asia/Tokyo}"}',
     "'arguments' is a string but not JSON"),
    ('{"name": "get_time", "arguments": ["Asia/Tokyo"]}', "must be a JSON object, got list"),
    ('{"name": "get_time", "arguments": "[1]"}', "must be a JSON object, got list"),
])
def test_hermes_unreadable_calls_are_problems(body: str, says: str) -> None:
    parsed = hermes(f"<tool_call>\n{body}\n</tool_call>")
    assert parsed.calls == []
    assert len(parsed.problems) == 1 and says in parsed.problems[0]
    assert parsed.problems[0].startswith("tool call 1: ")
    assert parsed.content is None


@pytest.mark.parametrize("text", ["The weather in Paris is 18°C and sunny.", "  spaced out \n",
                                  "a < b and </tool_call> alone is not a call"])
def test_hermes_without_calls_keeps_the_text_unchanged(text: str) -> None:
    assert hermes(text) == ParsedOutput(text, [], [])


@pytest.mark.parametrize("text", ["", " \n\t"])
def test_whitespace_only_output_is_no_content(text: str) -> None:
    for parse in (hermes, fenced, bare):
        assert parse(text) == ParsedOutput(None, [], [])


# -- fenced ------------------------------------------------------------------------------

QWEN_1_5B_FENCED = """To find the current weather in Paris, I will call the `get_weather` function.

```json
{
  "name": "get_weather",
  "arguments": {
    "location": "Paris, France",
    "unit": "celsius"
  }
}
```

This will return the current weather conditions in Paris."""


def test_fenced_qwen_small_model_style() -> None:
    parsed = fenced(QWEN_1_5B_FENCED)
    assert parsed.calls == [PARIS]
    assert parsed.problems == []
    assert parsed.content == ("To find the current weather in Paris, I will call the "
                              "`get_weather` function.\n\nThis will return the current weather "
                              "conditions in Paris.")


@pytest.mark.parametrize("block", [
    '{"function": "get_weather", "parameters": {"location": "Paris, France", '
    '"unit": "celsius"}}',
    '{"name": "get_weather", "parameters": {"location": "Paris, France", "unit": "celsius"}}',
    '{"type": "function", "function": {"name": "get_weather", "arguments": {"location": '
    '"Paris, France", "unit": "celsius"}}}',
    '{"name": "get_weather", "arguments": "{\\"location\\": \\"Paris, France\\", '
    '\\"unit\\": \\"celsius\\"}"}',
])
def test_fenced_variants_small_models_write(block: str) -> None:
    assert fenced(f"```json\n{block}\n```") == ParsedOutput(None, [PARIS], [])


def test_fenced_list_of_calls_and_several_fences() -> None:
    text = ('I need two functions.\n```json\n[\n  {"name": "get_weather", "arguments": '
            '{"location": "Paris, France", "unit": "celsius"}},\n  {"name": "get_time", '
            '"arguments": {"timezone": "Asia/Tokyo"}}\n]\n```\nAnd again:\n```\n{"name": '
            '"get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n```')
    parsed = fenced(text)
    assert parsed.calls == [PARIS, TOKYO_TIME, TOKYO_TIME]
    assert parsed.content == "I need two functions.\nAnd again:"


@pytest.mark.parametrize("text", [
    '```json\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}',  # cut off
    '```JSON\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}```',
    '```json{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}```',
    '```tool_call\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n```\n',
])
def test_fenced_tolerated_fences(text: str) -> None:
    assert fenced(text) == ParsedOutput(None, [TOKYO_TIME], [])


@pytest.mark.parametrize("text", [
    'Here is the data:\n```json\n{"name": "Alice", "age": 30}\n```',
    'Example:\n```python\nget_weather(location="Paris, France")\n```',
    'Broken config:\n```json\n{"debug": true,\n```',
    "No fences at all.",
])
def test_fences_that_are_not_calls_stay_content(text: str) -> None:
    assert fenced(text) == ParsedOutput(text, [], [])


def test_fenced_broken_call_json_is_a_problem() -> None:
    text = ('Calling it:\n```json\n{"name": "get_weather", "arguments": {"location": "Paris, '
            'France",}}\n```')
    parsed = fenced(text)
    assert parsed.calls == [] and parsed.content == "Calling it:"
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("tool call block 1: invalid JSON")


def test_fenced_list_item_that_is_not_a_call_is_a_problem() -> None:
    text = ('```json\n[{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}, '
            '"and then the weather"]\n```')
    parsed = fenced(text)
    assert parsed.calls == [TOKYO_TIME]
    assert parsed.problems == ["tool call block 1: item 1 is not a tool call: "
                               '"and then the weather"']


def test_fenced_call_with_unreadable_arguments_is_a_problem() -> None:
    parsed = fenced('```json\n{"name": "get_time", "arguments": 5}\n```')
    assert parsed.calls == []
    assert parsed.problems == ["tool call block 1: 'arguments' must be a JSON object, got int"]


# -- bare --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    '{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}',
    '\n  {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}  \n',
    '{"function": "get_time", "parameters": {"timezone": "Asia/Tokyo"}}',
    '[{"name": "get_time", "arguments": "{\\"timezone\\": \\"Asia/Tokyo\\"}"}]',
])
def test_bare_calls(text: str) -> None:
    assert bare(text) == ParsedOutput(None, [TOKYO_TIME], [])


def test_bare_list_of_calls() -> None:
    text = ('[{"name": "get_weather", "arguments": {"location": "Paris, France", "unit": '
            '"celsius"}}, {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}]')
    assert bare(text) == ParsedOutput(None, [PARIS, TOKYO_TIME], [])


@pytest.mark.parametrize("text", [
    "It is 18°C in Paris.",
    '{"answer": 42, "confidence": 0.9}',
    '[1, 2, 3]',
    '{"name": "Alice", "age": 30}',
    '{"answer": "unterminated',
    'Sure! {"name": "get_time", "arguments": {}}',
])
def test_bare_output_that_is_not_a_call_stays_content(text: str) -> None:
    assert bare(text) == ParsedOutput(text, [], [])


@pytest.mark.parametrize(("text", "says"), [
    ('{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}', "invalid JSON"),
    ('{"name": "get_time", "arguments": {}}\nI called get_time.', "Extra data"),
    ('{"name": "get_time", "arguments": "tz=Asia/Tokyo"}', "is a string but not JSON"),
])
def test_bare_broken_calls_are_problems(text: str, says: str) -> None:
    parsed = bare(text)
    assert parsed.calls == [] and parsed.content is None
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("tool call: ") and says in parsed.problems[0]
