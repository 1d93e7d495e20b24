"""tools/repeat.py: how a call is spelled after the tag, and which calls are scored."""

from __future__ import annotations

from openmini.tools.calls import ToolCall
from openmini.tools.repeat import MAX_SCORED, call_text, last_batch


def test_call_text_is_the_templates_spelling() -> None:
    assert call_text("get_weather", '{"city":"Oslo"}') == (
        '\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n')
    assert call_text("f", "not json") == '\n{"name": "f", "arguments": "not json"}\n'


def test_last_batch_is_the_last_message_that_called_each_call_once() -> None:
    a, b = ToolCall("1", "f", "{}"), ToolCall("2", "g", "{}")
    assert last_batch([(a,), (), (b, b, a), ()]) == [b, a]
    many = [ToolCall(str(i), "f", f'{{"i": {i}}}') for i in range(MAX_SCORED + 3)]
    assert len(last_batch([many])) == MAX_SCORED
    assert last_batch([(), ()]) == []

