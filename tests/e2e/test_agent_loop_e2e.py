"""The agent loop through the official `openai` SDK against `openmini serve --model fast`:
call, result, answer, over several rounds, streaming and not (issue 20).

The client runs the tools as an agent does: every call gets its result (an error for a city
it does not know), and the loop goes on until the model answers in text. Before, `fast` called
`get_weather {"city": "Oslo"}` again after every result and the loop never ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from .conftest import serve

pytestmark = pytest.mark.model
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
RESULTS = {"oslo": {"temp_c": -3, "sky": "snow"}, "bergen": {"temp_c": 4, "sky": "rain"}}
ROUNDS = 5


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    with serve("fast", "--parallel", "2", "--ctx-size", "2048") as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0,
                            timeout=600)


def result(arguments: str) -> str:
    city = str(json.loads(arguments).get("city", "")).strip().lower()
    return json.dumps(RESULTS.get(city, {"error": f"unknown city: {city!r}"}))


def reply(client: openai.OpenAI, messages: list[Any], stream: bool) -> tuple[str, list[Any]]:
    """One request: (text, calls as (id, name, arguments)), streamed deltas reassembled."""
    kw: dict[str, Any] = dict(model="fast", messages=messages, tools=[WEATHER],
                              temperature=0, max_tokens=128)
    if not stream:
        message = client.chat.completions.create(**kw).choices[0].message
        calls = [(c.id, c.function.name, c.function.arguments)
                 for c in message.tool_calls or []]
        return message.content or "", calls
    text, calls = "", {}
    for chunk in client.chat.completions.create(stream=True, **kw):
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is None:
            continue
        text += delta.content or ""
        for c in delta.tool_calls or []:
            got = calls.setdefault(c.index, ["", "", ""])
            got[0] = c.id or got[0]
            got[1] += (c.function.name or "") if c.function else ""
            got[2] += (c.function.arguments or "") if c.function else ""
    return text, [tuple(c) for c in calls.values()]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("question", ["What's the weather in Oslo?",
                                      "Is it colder in Oslo or in Bergen right now?"])
def test_the_loop_ends_in_an_answer_from_the_results(client: openai.OpenAI, stream: bool,
                                                     question: str) -> None:
    messages: list[Any] = [{"role": "user", "content": question}]
    made: list[tuple[str, str]] = []
    for _ in range(ROUNDS):
        text, calls = reply(client, messages, stream)
        if not calls:
            break
        for _, name, arguments in calls:
            key = (name, json.dumps(json.loads(arguments), sort_keys=True))
            assert key not in made, f"{key} again after its result: {messages}"
            made.append(key)
        messages.append({"role": "assistant", "content": text or None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in calls]})
        messages += [{"role": "tool", "tool_call_id": i, "content": result(a)}
                     for i, _, a in calls]
    else:
        pytest.fail(f"still calling after {ROUNDS} rounds: {messages}")
    assert made, "answered without calling"
    assert text.strip() and '""' not in text and "\n\n\n" not in text
    assert "-3" in text or "snow" in text.lower() or "colder" in text.lower(), text
