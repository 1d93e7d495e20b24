"""Image parts for an upstream that sees images natively: the pixels the vision stage fitted
(`ImagePart.pixels`, vision/stage.py), encoded again, off the event loop.

Photographs go as JPEG (quality 90, a tenth of PNG's bytes); images with transparency,
palettes or other modes as lossless PNG. Shared by the upstream backends: OpenAI's wire takes
a `data:` URL, Anthropic's the media type and base64 apart.
"""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openmini.errors import InvalidRequest

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from openmini.types import ChatMessage, ImagePart

JPEG_MODES = ("RGB", "L")
JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class EncodedImage:
    media_type: str
    base64: str

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64}"


def encode(pixels: PILImage) -> EncodedImage:
    buffer = io.BytesIO()
    if pixels.mode in JPEG_MODES:
        pixels.save(buffer, "JPEG", quality=JPEG_QUALITY)
        media_type = "image/jpeg"
    else:
        pixels.save(buffer, "PNG")
        media_type = "image/png"
    return EncodedImage(media_type, base64.b64encode(buffer.getvalue()).decode("ascii"))


async def encode_images(messages: tuple[ChatMessage, ...]
                        ) -> dict[tuple[int, int], EncodedImage]:
    """(message index, part index) -> the encoded image, for every image part."""
    parts = [(i, part) for i, m in enumerate(messages) for part in m.images]
    if not parts:
        return {}
    for i, part in parts:
        if part.pixels is None:
            where = f"messages[{i}].content[{part.index}].image_url"
            raise InvalidRequest(f"{where}: the image was not taken by the vision stage "
                                 "(no pixels to send upstream).", param=where)
    return await asyncio.to_thread(_encode_all, parts)


def _encode_all(parts: list[tuple[int, ImagePart]]) -> dict[tuple[int, int], EncodedImage]:
    return {(i, part.index): encode(part.pixels) for i, part in parts
            if part.pixels is not None}
