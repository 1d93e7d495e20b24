"""End to end: the official `anthropic` SDK, unchanged, against the real `openmini serve` on the
`tiny` model (with an API key, which the SDK sends as `x-api-key`): text, both streaming
styles, the tools round trip, thinking, an image, count_tokens, and errors as the SDK's own
exception classes with Anthropic's error types."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema
import pytest
from PIL import Image, ImageDraw, ImageFont

from .conftest import serve

pytestmark = pytest.mark.model

MODEL = "tiny"
KEY = "s3cret-e2e"
HELLO: list[Any] = [{"role": "user", "content": "Say hello to the world."}]
WEATHER: dict[str, Any] = {
    "name": "get_weather", "description": "Current weather for a city",
    "input_schema": {"type": "object",
                     "properties": {"city": {"type": "string", "maxLength": 20},
                                    "unit": {"type": "string", "enum": ["c", "f"]}},
                     "required": ["city", "unit"], "additionalProperties": False}}
ASK: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
# this SDK's typed signature has no sampling parameters; the API (and openmini) take them
GREEDY = {"temperature": 0}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(MODEL, "--parallel", "2", "--ctx-size", "2048", "--api-key", KEY) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0, timeout=300)


def test_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=16, messages=HELLO,
                                     system="You are friendly.", extra_body=GREEDY)
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == MODEL
    [block] = message.content
    assert block.type == "text" and block.text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert 0 < message.usage.output_tokens <= 16 and message.usage.input_tokens > 0


def test_stream_helper_and_raw_stream_match_the_message(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = dict(model=MODEL, max_tokens=20, extra_body=GREEDY, messages=HELLO)
    whole = client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == whole.content[0].text == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens
    total = final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0)
    assert total == whole.usage.input_tokens + (whole.usage.cache_read_input_tokens or 0)
    events = list(client.messages.create(**kwargs, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = "".join(e.delta.text for e in events  # type: ignore[union-attr]
                     if e.type == "content_block_delta")
    assert deltas == text


def test_tools_round_trip(client: anthropic.Anthropic) -> None:
    first = client.messages.create(model=MODEL, max_tokens=80, extra_body=GREEDY, messages=ASK,
                                   tools=[WEATHER],  # type: ignore[list-item]
                                   tool_choice={"type": "tool", "name": "get_weather",
                                                "disable_parallel_tool_use": True})
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.id.startswith("toolu_") and call.name == "get_weather"
    jsonschema.validate(call.input, WEATHER["input_schema"])
    messages = [*ASK, {"role": "assistant", "content": first.content},  # the SDK's own blocks
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                              "content": '{"temp_c": 21, "sky": "sunny"}'}]}]
    # tool_choice auto, as an agent loop sends it: the model answers from the result
    answer = client.messages.create(model=MODEL, max_tokens=40, extra_body=GREEDY,
                                    messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    assert answer.stop_reason in ("end_turn", "max_tokens")
    [text] = answer.content
    assert text.type == "text" and ("sunny" in text.text.lower() or "21" in text.text)


def test_streamed_tool_use_reassembles(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=80, extra_body=GREEDY, messages=ASK,
                                tools=[WEATHER],  # type: ignore[list-item]
                                tool_choice={"type": "any"}) as stream:
        final = stream.get_final_message()
    calls = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and calls and calls[0].name == "get_weather"
    jsonschema.validate(calls[0].input, WEATHER["input_schema"])


def test_thinking(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = dict(
        model=MODEL, max_tokens=140, extra_body=GREEDY,
        thinking={"type": "enabled", "budget_tokens": 32},
        messages=[{"role": "user", "content": "What is 6 times 7?"}])
    client.messages.create(**kwargs)  # both runs below then reuse the cached prompt
    whole = client.messages.create(**kwargs)
    thinking, *rest = whole.content
    assert thinking.type == "thinking" and thinking.thinking.strip()
    assert isinstance(thinking.signature, str) and thinking.signature
    assert [b.type for b in rest] == ["text"]
    with client.messages.stream(**kwargs) as stream:
        order = [e.type for e in stream if e.type in ("thinking", "text")]
        final = stream.get_final_message()
    assert order and order == sorted(order, reverse=True)  # every thinking before any text
    assert final.content[0].thinking == thinking.thinking  # type: ignore[union-attr]
    assert final.content[0].signature == thinking.signature  # type: ignore[union-attr]
    # the thinking block goes back in the next turn and is dropped from the prompt
    follow = client.messages.create(**{**kwargs, "messages": [
        *kwargs["messages"], {"role": "assistant", "content": whole.content},
        {"role": "user", "content": "And 6 times 8?"}]})
    assert follow.content[-1].type == "text"


def invoice_base64() -> str:
    image = Image.new("RGB", (900, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, 60), "Invoice number: 48213", fill="black",
              font=ImageFont.load_default(size=48))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_image_and_count_tokens(client: anthropic.Anthropic) -> None:
    question = {"type": "text", "text": "What is the invoice number?"}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": invoice_base64()}}
    with_image: list[Any] = [{"role": "user", "content": [image, question]}]
    without: list[Any] = [{"role": "user", "content": [question]}]
    counted = client.messages.count_tokens(model=MODEL, messages=with_image).input_tokens
    plain = client.messages.count_tokens(model=MODEL, messages=without).input_tokens
    assert counted > plain + 5  # the image is read (OCR) and its text counted in its place
    answer = client.messages.create(model=MODEL, max_tokens=24, extra_body=GREEDY,
                                    messages=with_image)
    usage = answer.usage
    assert usage.input_tokens + (usage.cache_read_input_tokens or 0) == counted
    assert answer.content and answer.content[0].type == "text"


def test_count_tokens_matches_usage(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = dict(model=MODEL, system="Answer briefly.", messages=ASK,
                                  tools=[WEATHER])
    counted = client.messages.count_tokens(**kwargs).input_tokens
    usage = client.messages.create(**kwargs, max_tokens=8, extra_body=GREEDY).usage
    assert counted == usage.input_tokens + (usage.cache_read_input_tokens or 0)


def test_errors(client: anthropic.Anthropic, base_url: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=8, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as unknown:
        client.messages.create(model=MODEL, max_tokens=8, messages=HELLO,
                               extra_body={"frobnicate": True})
    assert "frobnicate" in unknown.value.message
    assert unknown.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as no_max:  # the SDK's low-level call
        client.post("/v1/messages", cast_to=anthropic.types.Message,
                    body={"model": MODEL, "messages": HELLO})
    assert "max_tokens" in no_max.value.message
    wrong = anthropic.Anthropic(base_url=base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as denied:
        wrong.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert KEY not in str(denied.value.body)


def test_a_final_assistant_turn_is_continued(client: anthropic.Anthropic) -> None:
    """Anthropic's prefill: the answer goes on from the partial assistant text."""
    message = client.messages.create(
        model=MODEL, max_tokens=8, extra_body=GREEDY, messages=[
            {"role": "user", "content": "Count from 1 to 10, separated by commas."},
            {"role": "assistant", "content": "1, 2, 3, 4,"}])
    [block] = message.content
    assert block.type == "text" and block.text.startswith(" 5, 6")
    with pytest.raises(anthropic.BadRequestError, match="whitespace"):
        client.messages.create(model=MODEL, max_tokens=8, messages=[
            {"role": "user", "content": "Count."}, {"role": "assistant", "content": "1, "}])
