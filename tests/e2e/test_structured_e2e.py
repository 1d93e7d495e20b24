"""Structured outputs end to end: the openai SDK's parse() with pydantic, strict schemas,
vLLM-style regex/choice/grammar, and bad constraints as 400s naming the parameter."""

from __future__ import annotations

import json
import re

import openai
import pytest
from jsonschema import validate
from pydantic import BaseModel

pytestmark = pytest.mark.model

MODEL = "tiny"  # the model tests/e2e/conftest.py serves


class City(BaseModel):
    name: str
    country: str
    population: int


def ask(client: openai.OpenAI, **kwargs: object) -> str:
    out = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Describe Paris."}],
        max_tokens=80, temperature=0.7, seed=1, **kwargs)  # type: ignore[call-overload]
    return out.choices[0].message.content or ""


def test_parse_with_pydantic_model(client: openai.OpenAI) -> None:
    out = client.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "Give me a city as JSON."}],
        response_format=City, max_tokens=120, temperature=0.7, seed=3)
    city = out.choices[0].message.parsed
    assert isinstance(city, City)


def test_strict_schema_with_refs_enums_and_bounds(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "$defs": {"tag": {"type": "string", "enum": ["a", "b", "c"]}},
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 10},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 1,
                     "maxItems": 3},
            "note": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}]},
        },
        "required": ["score", "tags", "note"],
        "additionalProperties": False,
    }
    text = ask(client, response_format={"type": "json_schema", "json_schema": {
        "name": "review", "schema": schema, "strict": True}})
    validate(json.loads(text), schema)


def test_json_object(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        max_tokens=200, temperature=0, response_format={"type": "json_object"})
    assert out.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(out.choices[0].message.content or ""), dict)


def test_regex_choice_and_grammar(client: openai.OpenAI) -> None:
    text = ask(client, extra_body={"structured_outputs": {"regex": r"[A-Z][a-z]{2,8}, [0-9]{4}"}})
    assert re.fullmatch(r"[A-Z][a-z]{2,8}, [0-9]{4}", text)
    assert ask(client, extra_body={"structured_outputs": {"choice": ["yes", "no"]}}) in {
        "yes", "no"}
    lark = 'start: "The answer is " NUM "."\nNUM: /[0-9]{1,3}/'
    assert re.fullmatch(r"The answer is [0-9]{1,3}\.",
                        ask(client, extra_body={"structured_outputs": {"grammar": lark}}))


def test_streamed_constrained_output_is_whole(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "A city?"}], max_tokens=120,
        stream=True, seed=5, temperature=0.7, n=2,
        response_format={"type": "json_schema", "json_schema": {
            "name": "city", "schema": City.model_json_schema()}})
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    for text in texts.values():
        City.model_validate_json(text)


@pytest.mark.parametrize(("extra", "param"), [
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "array", "uniqueItems": True}}}},
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": 12}}}}, "response_format.json_schema.schema"),
    ({"structured_outputs": {"regex": "[0-9"}}, "structured_outputs.regex"),
    ({"structured_outputs": {"grammar": "start: nope"}}, "structured_outputs.grammar"),
    ({"structured_outputs": {"regex": "a", "choice": ["b"]}}, "structured_outputs"),
])
def test_bad_constraints_are_400s(client: openai.OpenAI, extra: dict[str, object],
                                  param: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}],
                                       extra_body=extra)
    assert err.value.body["param"] == param  # type: ignore[index]
