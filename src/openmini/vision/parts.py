"""Message content as the Python API and the CLI take it: text, and images given as a path, bytes
or a PIL image (read here: the caller's own files, not a request from the network), or as
OpenAI's `image_url` parts (taken under the server's policy, as over HTTP).

    om.chat([{"role": "user", "content": ["What does this receipt total?", Path("r.jpg")]}])
    om.chat([{"role": "user", "content": [
        {"type": "text", "text": "Describe it."},
        {"type": "image", "image": pil_image, "detail": "low"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]}])
"""

from __future__ import annotations

import io
from os import PathLike
from pathlib import Path
from typing import Any

from openmini.errors import InvalidRequest
from openmini.types import ChatMessage, ImagePart

DETAILS = ("auto", "low", "high")


def message(role: str, content: Any) -> ChatMessage:
    """A ChatMessage from a role and content: a string, or a list of parts (module doc)."""
    if content is None or isinstance(content, str):
        return ChatMessage(role, content or "")  # type: ignore[arg-type]
    texts: list[str] = []
    images: list[ImagePart] = []
    for j, part in enumerate(content):
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text"):
            texts.append(part if isinstance(part, str) else str(part.get("text", "")))
            continue
        at = len("\n".join(texts))
        images.append(_image(part, at, j))
    if images and role != "user":
        raise InvalidRequest(f"images are only taken in user messages, not in a '{role}' one")
    return ChatMessage(role, "\n".join(texts), images=tuple(images))  # type: ignore[arg-type]


def _image(part: Any, at: int, index: int) -> ImagePart:
    detail = "auto"
    if isinstance(part, dict):
        kind = part.get("type")
        if kind == "image_url":
            url = part.get("image_url") or {}
            detail = url.get("detail", "auto")
            return ImagePart(url=str(url.get("url", "")), detail=_detail(detail), at=at,
                             index=index)
        if kind != "image":
            raise InvalidRequest(f"content part {index}: unknown type {kind!r} (text, image, "
                                 "image_url)")
        detail, part = part.get("detail", "auto"), part.get("image")
    return ImagePart(data=image_bytes(part), detail=_detail(detail), at=at, index=index)


def image_bytes(image: Any) -> bytes:
    """The encoded bytes of an image given as a path, bytes or a PIL image."""
    if isinstance(image, bytes | bytearray):
        return bytes(image)
    if isinstance(image, str | PathLike):
        path = Path(image).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InvalidRequest(f"cannot read the image {str(path)!r}: {exc.strerror}") from None
    if hasattr(image, "save") and hasattr(image, "size"):  # a PIL image
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    raise InvalidRequest(f"an image must be a path, bytes or a PIL image, not "
                         f"{type(image).__name__}")


def _detail(detail: Any) -> Any:
    if detail not in DETAILS:
        raise InvalidRequest(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    return detail
