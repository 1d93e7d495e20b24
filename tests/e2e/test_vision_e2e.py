"""Images through the official `openai` SDK against `openmini serve --model fast` (issue 21):
an invoice rendered in the test, sent as a data URL, is read (perception: OCR in its place)
and the model answers from it; the models list says how images are taken; a hostile URL is a
400 naming the part, and the server goes on serving."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image, ImageDraw, ImageFont

from .conftest import serve

pytestmark = pytest.mark.model


def invoice_url() -> str:
    image = Image.new("RGB", (900, 360), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for y, line in ((40, "ACME Supplies Ltd."), (120, "Invoice number: 48213"),
                    (200, "Total due: 1,290.00 EUR")):
        draw.text((40, y), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve("fast", "--parallel", "2", "--ctx-size", "2048") as url:
        yield url


def ask(client: openai.OpenAI, question: str, url: str, **kw: object) -> str:
    out = client.chat.completions.create(model="fast", temperature=0, max_tokens=40, messages=[
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                     {"type": "text", "text": question}]}], **kw)
    return out.choices[0].message.content or ""


def test_the_image_is_read_and_answered_from(base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=300)
    url = invoice_url()
    assert "48213" in ask(client, "What is the invoice number? Reply with the number.", url)
    streamed = client.chat.completions.create(
        model="fast", temperature=0, max_tokens=40, stream=True, messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "What is the total due?"},
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}])
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert "1,290" in text or "1290" in text, text


def test_models_say_how_images_are_taken(base_url: str) -> None:
    data = httpx.get(f"{base_url}/v1/models", timeout=10).json()["data"]
    assert {m["vision"] for m in data if m["type"] == "chat"} == {"perception"}


def test_a_hostile_url_is_a_400_naming_the_part(base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=60)
    for url in (f"{base_url}/health", "http://169.254.169.254/latest/meta-data/",
                "file:///etc/passwd", "data:image/png;base64,not-base64!"):
        with pytest.raises(openai.BadRequestError) as exc:
            ask(client, "What is this?", url)
        body = exc.value.body
        assert isinstance(body, dict) and body["param"] == "messages[0].content[0].image_url"
    assert "48213" in ask(client, "What is the invoice number?", invoice_url())


def test_a_follow_up_turn_about_the_same_image(base_url: str) -> None:
    """An agent-style conversation: the image in the first turn, the answer kept, a second
    question in the next turn (the client re-sends the whole history, image included)."""
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=300)
    messages: list[dict[str, object]] = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": invoice_url()}},
        {"type": "text", "text": "What is the invoice number? Reply with the number."}]}]
    first = client.chat.completions.create(model="fast", messages=messages,  # type: ignore[arg-type]
                                           temperature=0, max_tokens=40)
    assert "48213" in (first.choices[0].message.content or "")
    messages += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "And which company issued it?"}]
    second = client.chat.completions.create(model="fast", messages=messages,  # type: ignore[arg-type]
                                            temperature=0, max_tokens=40)
    assert "acme" in (second.choices[0].message.content or "").lower()
