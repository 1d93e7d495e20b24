"""Content parts as the Python API takes them (vision/parts.py): text, and images given as a
path, bytes, a PIL image or OpenAI's image_url, each placed where it stood."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from openmini.api import to_messages
from openmini.errors import InvalidRequest
from openmini.vision.parts import image_bytes, message


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(out, format="PNG")
    return out.getvalue()


def test_every_form_of_image_is_taken_in_place(tmp_path: Path) -> None:
    path = tmp_path / "blue.png"
    path.write_bytes(png_bytes())
    pil = Image.new("RGB", (4, 4), "blue")
    m = message("user", ["Compare", path, {"type": "text", "text": "and"},
                         {"type": "image", "image": pil, "detail": "low"}, png_bytes(),
                         {"type": "image_url", "image_url": {"url": "data:x", "detail": "high"}}])
    assert m.content == "Compare\nand"
    assert [(i.at, i.index, i.detail) for i in m.images] == [
        (7, 1, "auto"), (11, 3, "low"), (11, 4, "auto"), (11, 5, "high")]
    assert m.images[0].data == png_bytes() and m.images[3].url == "data:x"
    assert Image.open(io.BytesIO(m.images[1].data or b"")).size == (4, 4)


def test_to_messages_takes_dicts_with_parts(tmp_path: Path) -> None:
    (msg,) = to_messages([{"role": "user", "content": ["What is it?", png_bytes()]}])
    assert msg.content == "What is it?" and len(msg.images) == 1


@pytest.mark.parametrize(("role", "content", "cause"), [
    ("assistant", [png_bytes()], "only taken in user messages"),
    ("user", [{"type": "audio"}], "unknown type"),
    ("user", [{"type": "image", "image": 3}], "path, bytes or a PIL image"),
    ("user", [{"type": "image", "image": png_bytes(), "detail": "max"}], "detail"),
    ("user", ["/no/such/file.png"], None),  # a string is text, never a path
])
def test_bad_parts(role: str, content: list[object], cause: str | None) -> None:
    if cause is None:
        assert message(role, content).content == "/no/such/file.png"
        return
    with pytest.raises(InvalidRequest, match=cause):
        message(role, content)


def test_a_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read the image"):
        image_bytes(tmp_path / "gone.png")
