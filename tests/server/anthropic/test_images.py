"""Image blocks go through the same vision stage as OpenAI's image_url parts: read (real OCR)
and described in place for a perception backend, counted by count_tokens, refused by the SSRF
guard with the wire block named."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from openmini.backends.base import Capabilities

from .conftest import MESSAGES, CountingBackend


def png_base64(line: str) -> str:
    image = Image.new("RGB", (700, 140), "white")
    ImageDraw.Draw(image).text((30, 40), line, fill="black", font=ImageFont.load_default(size=40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def ask(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"model": "fake", "max_tokens": 16, "messages": [
        {"role": "user", "content": "Earlier."}, {"role": "assistant", "content": "Ok."},
        {"role": "user", "content": [{"type": "text", "text": "Read this:"}, *blocks]}]}


def image(source: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image", "source": source}


@pytest.fixture
def backend() -> CountingBackend:
    return CountingBackend(capabilities=Capabilities(max_n=4, vision="perception"))


async def test_base64_image_is_read_in_place_and_counted(client, backend) -> None:
    block = image({"type": "base64", "media_type": "image/png",
                   "data": png_base64("INVOICE 48213")})
    r = await client.post(MESSAGES, json=ask(block))
    assert r.status_code == 200, r.text
    last = backend.requests[0].messages[-1]
    assert last.content.startswith("Read this:") and "48213" in last.content
    assert last.images == ()  # described as text for a perception backend
    count = await client.post(f"{MESSAGES}/count_tokens",
                              json={k: v for k, v in ask(block).items() if k != "max_tokens"})
    assert count.json()["input_tokens"] == sum(
        len(m.content.split()) for m in backend.requests[0].messages)


@pytest.mark.parametrize("source", [
    {"type": "url", "url": "http://127.0.0.1:9/secret.png"},
    {"type": "url", "url": "file:///etc/passwd"},
    {"type": "base64", "media_type": "image/png", "data": "not-base64!"},
])
async def test_refused_images_name_the_wire_block(client, backend, source) -> None:
    r = await client.post(MESSAGES, json=ask(image(source)))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("messages[2].content[1].source: ")
    assert backend.requests == []

