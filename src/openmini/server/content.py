"""A chat message's `content` on the wire -> its text and its images (types.ImagePart).

Text parts are joined with newlines; an `image_url` part stands where it was among them
(`ImagePart.at`, an offset in the joined text), so a model is told about it in place. Images
are taken in user messages only (as OpenAI does); an image part anywhere else, a part of
another type, or a field a part does not have is a 400 naming `messages[i].content[j]`.
Nothing is fetched here: vision/ takes the images in the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.types import ImagePart

if TYPE_CHECKING:
    from openmini.server.schemas import ContentPart, MessageIn


def message_content(i: int, message: MessageIn) -> tuple[str, tuple[ImagePart, ...]]:
    content = message.content
    if content is None:
        if message.role != "assistant":
            raise InvalidRequest(f"'messages[{i}].content' is required for role "
                                 f"'{message.role}'.", param=f"messages.{i}.content")
        return "", ()
    if isinstance(content, str):
        return content, ()
    texts: list[str] = []
    images: list[ImagePart] = []
    for j, part in enumerate(content):
        if part.type == "image_url":
            images.append(_image(i, j, message.role, part, len("\n".join(texts))))
        else:
            texts.append(_text(i, j, part))
    return "\n".join(texts), tuple(images)


def _text(i: int, j: int, part: ContentPart) -> str:
    where = f"messages[{i}].content[{j}]"
    if part.type != "text":
        raise UnsupportedParameter(where, f"of type '{part.type}' is not supported")
    _no_extra(where, part, "image_url")
    if part.text is None:
        raise InvalidRequest(f"'{where}.text' is required for text parts.",
                             param=f"messages.{i}.content.{j}.text")
    return part.text


def _image(i: int, j: int, role: str, part: ContentPart, at: int) -> ImagePart:
    where = f"messages[{i}].content[{j}]"
    if role != "user":
        raise InvalidRequest(f"'{where}': image parts are only accepted in user messages, "
                             f"not in a '{role}' message.", param=f"messages.{i}.content.{j}")
    _no_extra(where, part, "text")
    if part.image_url is None:
        raise InvalidRequest(f"'{where}.image_url' is required for image_url parts.",
                             param=f"messages.{i}.content.{j}.image_url")
    return ImagePart(url=part.image_url.url, detail=part.image_url.detail, at=at, index=j)


def _no_extra(where: str, part: ContentPart, other: str) -> None:
    if part.model_extra:
        raise UnsupportedParameter(f"{where}.{next(iter(part.model_extra))}")
    if getattr(part, other) is not None:
        raise UnsupportedParameter(f"{where}.{other}", f"is not a field of a '{part.type}' part")
