"""The vision stage through the HTTP app with a scripted backend that declares perception:
images are read (real OCR) and described in their place, numbered in order, cached by their
pixels; refusals and limits are 4xx naming the part, and the backend never sees them."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from PIL import Image, ImageDraw, ImageFont

from openmini.backends.base import Capabilities
from openmini.config import ServerConfig
from openmini.server.app import create_app
from openmini.types import ChatMessage, ImagePart
from openmini.vision.stage import _placed

from .fake_backend import FakeBackend

CHAT = "/v1/chat/completions"


def text_png(line: str, fmt: str = "PNG") -> str:
    image = Image.new("RGB", (700, 140), "white")
    ImageDraw.Draw(image).text((30, 40), line, fill="black", font=ImageFont.load_default(size=40))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def chat(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": list(parts)}]}


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend(capabilities=Capabilities(max_n=4, vision="perception"))


@pytest_asyncio.fixture(loop_scope="function")
async def client(backend: FakeBackend) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServerConfig(max_images=3), backend)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", timeout=60) as c:
        yield c


async def test_images_are_read_and_described_in_their_place(client, backend) -> None:
    r = await client.post(CHAT, json=chat(text("Compare"), image(text_png("INVOICE 48213")),
                                          text("with"), image(text_png("RECEIPT 77410"))))
    assert r.status_code == 200, r.text
    message = backend.requests[0].messages[0]
    assert message.images == ()
    content = message.content
    assert content.index("Compare") < content.index("48213") < content.index("with") \
        < content.index("77410")
    assert "image 1" in content and "image 2" in content


async def test_the_same_pixels_are_perceived_once(client, backend, monkeypatch) -> None:
    from openmini.vision import perception

    calls: list[int] = []
    real = perception.perceive

    def counting(pixels: Any) -> Any:
        calls.append(1)
        return real(pixels)

    monkeypatch.setattr(perception, "perceive", counting)
    png, jpeg_free = text_png("SAME 31337"), text_png("SAME 31337", "BMP")
    for url in (png, jpeg_free, png):  # BMP and PNG of the same pixels: one digest
        r = await client.post(CHAT, json=chat(image(url), text("What number?")))
        assert r.status_code == 200, r.text
    assert len(calls) == 1
    assert all("31337" in req.messages[0].content for req in backend.requests)


@pytest.mark.parametrize(("part", "param", "cause"), [
    (image("data:image/png;base64,@@@"), "messages[0].content[1].image_url", "base64"),
    (image("http://127.0.0.1:9/x.png"), "messages[0].content[1].image_url", "loopback"),
    (image("file:///etc/passwd"), "messages[0].content[1].image_url", "file://"),
    (image("data:image/png;base64," + base64.b64encode(b"GIF89a-not-really").decode()),
     "messages[0].content[1].image_url", ""),
])
async def test_refusals_name_the_part(client, backend, part, param, cause) -> None:
    r = await client.post(CHAT, json=chat(text("look"), part))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param and cause in error["message"]
    assert error["code"] == "invalid_image"
    assert backend.requests == []


async def test_too_many_images(client, backend) -> None:
    url = text_png("x")
    r = await client.post(CHAT, json=chat(*[image(url)] * 4))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "too_many_images"
    assert backend.requests == []


def test_placement_keeps_order_at_one_offset() -> None:
    message = ChatMessage("user", "before\nafter", images=(
        ImagePart(url="a", at=7, index=1), ImagePart(url="b", at=7, index=2)))
    found = [(0, part) for part in message.images]
    (placed,) = _placed((message,), found, ["[A]", "[B]"])
    assert placed.content == "before\n[A]\n[B]\nafter" and placed.images == ()


async def test_a_refusal_is_an_http_error_even_when_streaming(client, backend) -> None:
    body = {**chat(image("http://10.0.0.7/a.png"), text("look")), "stream": True}
    r = await client.post(CHAT, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "messages[0].content[0].image_url"
    assert "private" in r.json()["error"]["message"]
    assert backend.requests == []
