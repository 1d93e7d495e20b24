"""Reasoning and stop criteria through the real server with the official openai SDK: the
SDK's own `reasoning_effort`, `reasoning_content` on messages and stream deltas (before the
answer), reasoning tokens in usage, extension fields through `extra_body`, 400s by name."""

from __future__ import annotations

import openai
import pytest

pytestmark = pytest.mark.model

ASK = [{"role": "user", "content": "What is 6 times 7?"}]


def test_reasoning_effort_returns_reasoning_apart(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="tiny", messages=ASK, reasoning_effort="minimal",
                                       max_tokens=140, temperature=0)
    message = r.choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning and message.content and message.content.strip()
    details = r.usage.completion_tokens_details
    assert details is not None and 0 < (details.reasoning_tokens or 0) <= 64


def test_streamed_reasoning_comes_first_and_matches(client: openai.OpenAI) -> None:
    kwargs = dict(model="tiny", messages=ASK, max_tokens=100, temperature=0,
                  extra_body={"thinking_budget": 32})
    client.chat.completions.create(**kwargs)  # both runs below then reuse the cached prompt
    whole = client.chat.completions.create(**kwargs)
    stream = client.chat.completions.create(**kwargs, stream=True,
                                            stream_options={"include_usage": True})
    order, reasoning, content, usage = [], "", "", None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = (choice.delta.model_extra or {}).get("reasoning_content")
            if extra:
                reasoning += extra
                order.append("r")
            if choice.delta.content:
                content += choice.delta.content
                order.append("c")
    assert order and order == sorted(order, reverse=True)  # every r before every c
    assert reasoning == whole.choices[0].message.model_extra["reasoning_content"]
    assert content == whole.choices[0].message.content
    assert usage is not None and usage.completion_tokens_details.reasoning_tokens <= 32


def test_effort_none_has_no_reasoning(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="tiny", messages=ASK, reasoning_effort="none",
                                       max_tokens=16)
    assert "reasoning_content" not in (r.choices[0].message.model_extra or {})
    assert r.usage.completion_tokens_details.reasoning_tokens == 0


def test_stop_regex_and_stop_reason(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Count from 1 to 20."}],
        max_tokens=120, temperature=0, extra_body={"stop_regex": [r"\b1[0-9]\b"]})
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.model_extra["stop_reason"] == r"\b1[0-9]\b"
    assert not any(str(k) in (choice.message.content or "") for k in range(10, 20))


def test_max_sentences_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Tell me about the sea."}],
        max_tokens=120, temperature=0, stream=True, extra_body={"max_sentences": 1})
    text, finish = "", None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert finish == "stop" and text.rstrip()[-1] in ".!?" and ". " not in text


@pytest.mark.parametrize(("extra", "param"), [
    ({"reasoning_effort": "huge"}, "reasoning_effort"),
    ({"extra_body": {"thinking_budget": 3}}, "thinking_budget"),
    ({"extra_body": {"stop_regex": ["("]}}, "stop_regex[0]"),
    ({"extra_body": {"max_time": -1}}, "max_time"),
    ({"extra_body": {"hooks": ["nope"]}}, "hooks[0]"),
])
def test_bad_values_are_400_naming_the_field(client: openai.OpenAI, extra, param) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=ASK, max_tokens=8,
                                       **extra)  # type: ignore[arg-type]
    assert err.value.body["param"] == param  # type: ignore[index]
