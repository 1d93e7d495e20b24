"""Chat content parts on the wire: text and image_url parts, where each image stands, and the
400s that name the part (server/content.py). Nothing is fetched: the fake backend has no
vision, so a well-formed image part reaches the vision stage and is refused there by name."""

from __future__ import annotations

import pytest

from openmini.errors import InvalidRequest
from openmini.server.content import message_content
from openmini.server.schemas import MessageIn

from .test_validation import CHAT, error_of

PNG = "data:image/png;base64,iVBORw0KGgo="


def parts(*items: object) -> MessageIn:
    return MessageIn.model_validate({"role": "user", "content": list(items)})


def test_text_and_images_keep_their_places() -> None:
    text, images = message_content(0, parts(
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
        {"type": "text", "text": "and this"}))
    assert text == "Compare\nand this"
    assert [(i.at, i.index, i.detail) for i in images] == [(0, 0, "auto"), (7, 2, "low")]
    assert all(i.url == PNG and i.data is None for i in images)


def test_a_string_content_has_no_images() -> None:
    assert message_content(0, MessageIn.model_validate({"role": "user", "content": "hi"})) == (
        "hi", ())


@pytest.mark.parametrize(("role", "extra"), [("system", {}), ("assistant", {})])
def test_images_only_in_user_messages(role: str, extra: dict[str, object]) -> None:
    message = MessageIn.model_validate({"role": role, "content": [
        {"type": "image_url", "image_url": {"url": PNG}}], **extra})
    with pytest.raises(InvalidRequest, match="only accepted in user messages") as exc:
        message_content(3, message)
    assert exc.value.param == "messages.3.content.0"


async def test_image_part_without_vision_names_the_part(client, backend) -> None:
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": PNG}}]
    error = error_of(await client.post(CHAT, json={
        "model": "fake", "messages": [{"role": "user", "content": content}]}))
    assert error["param"] == "messages[0].content[1]"
    assert "no vision" in error["message"]
    assert backend.requests == []


@pytest.mark.parametrize(("part", "param"), [
    ({"type": "image_url"}, "messages.0.content.0.image_url"),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": "max"}},
     "messages.0.content.0.image_url.detail"),
    ({"type": "image_url", "image_url": {"url": ""}}, "messages.0.content.0.image_url.url"),
    ({"type": "image_url", "image_url": {"url": PNG, "size": 3}},
     "messages.0.content.0.image_url.size"),
    ({"type": "image_url", "image_url": {"url": PNG}, "text": "x"},
     "messages[0].content[0].text"),
    ({"type": "text", "text": "x", "image_url": {"url": PNG}},
     "messages[0].content[0].image_url"),
    ({"type": "input_audio", "input_audio": {}}, "messages[0].content[0]"),
])
async def test_malformed_parts_are_400s_naming_them(client, part, param) -> None:
    error = error_of(await client.post(CHAT, json={
        "model": "fake", "messages": [{"role": "user", "content": [part]}]}))
    assert error["param"] == param, error
