"""End to end: `bad_words` through the real `openmini serve` on `tiny`, sent with the official
`openai` SDK's `extra_body`. The phrases are ones the greedy model writes unasked."""

from __future__ import annotations

import openai
import pytest

pytestmark = pytest.mark.model

MODEL = "tiny"  # the model tests/e2e/conftest.py serves
CATS = [{"role": "user", "content": "Tell me about cats."}]  # greedy: "Cats are ..."


def chat(client: openai.OpenAI, **kw: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=CATS, max_tokens=24,  # type: ignore[call-overload,no-any-return]
                                          temperature=0, **kw)


def test_chat_never_says_the_banned_word(client: openai.OpenAI) -> None:
    free = chat(client).choices[0].message.content or ""
    assert "cat" in free.casefold()
    out = chat(client, extra_body={"bad_words": ["CAT", "feline"]})
    text = out.choices[0].message.content or ""
    assert text and "cat" not in text.casefold() and "feline" not in text.casefold()
    assert out.choices[0].finish_reason in {"stop", "length"}
    assert out.usage is not None and out.usage.completion_tokens <= 24


def test_streaming_matches_non_streaming(client: openai.OpenAI) -> None:
    body = {"bad_words": ["cat"]}
    whole = chat(client, extra_body=body)
    stream = chat(client, extra_body=body, stream=True, stream_options={"include_usage": True})
    text, usage = "", None
    for chunk in stream:  # type: ignore[attr-defined]
        usage = chunk.usage or usage
        for choice in chunk.choices:
            piece = choice.delta.content or ""
            assert "cat" not in piece.casefold()
            text += piece
    assert text == whole.choices[0].message.content
    assert usage is not None and whole.usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_completions_endpoint(client: openai.OpenAI) -> None:
    kw = dict(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    free = client.completions.create(**kw)  # type: ignore[call-overload]
    assert "paris" in free.choices[0].text.casefold()
    out = client.completions.create(**kw, extra_body={"bad_words": ["Paris"]})  # type: ignore[call-overload]
    assert "paris" not in out.choices[0].text.casefold()


def test_invalid_bad_words_is_a_400_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        chat(client, extra_body={"bad_words": ["ok", ""]})
    assert bad.value.body["param"] == "bad_words"  # type: ignore[index]
