"""The pipeline's vision stage: a request's images taken, checked and made usable.

Every image of the request is loaded under the server's policy (sources.py: `data:`, http(s)
behind the SSRF guard, `file://` under the configured roots; bytes the Python API or CLI
read from the user's own files are taken as they are), decoded with its limits checked
(decode.py), then, for a backend whose model has no vision weights (`Capabilities.vision ==
"perception"`), described: perception/ reads its text (OCR, in reading order, tables kept as
rows), what it likely shows, its colours and faces, and that block takes the image's place
in the message text; for a backend whose model sees images (`"native"`: a vision projector),
each image is decoded and fitted per its `detail` (decode.fit) and its pixels handed on on
the part (`ImagePart.pixels`), the text left as it is. Perception is cached by the image's
pixel digest (a second request with the same image, in any encoding, reads nothing again),
within a memory bound.

Images are loaded and decoded concurrently, off the event loop; the first refusal ends the
request with a 4xx naming the part (`messages[i].content[j].image_url`) and the cause, and
the others are cancelled. A backend with no vision at all gets a 400 naming the first image.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from typing import TYPE_CHECKING

from openmini.errors import ImageRefused, UnsupportedParameter
from openmini.types import ChatMessage, ImagePart, Request
from openmini.vision.policy import MB, ImageLimits, SourcePolicy

if TYPE_CHECKING:
    from openmini.vision.cache import BoundedCache
    from openmini.vision.decode import Image
    from openmini.vision.perception.facts import Facts

Found = tuple[int, ImagePart]  # (message index, part)


def images_of(request: Request) -> list[Found]:
    return [(i, part) for i, m in enumerate(request.messages or ()) for part in m.images]


def no_vision(found: list[Found]) -> UnsupportedParameter:
    i, part = found[0]
    return UnsupportedParameter(f"messages[{i}].content[{part.index}]",
                                "of type 'image_url' is not supported by this model "
                                "(it has no vision)")


class Intake:
    """The stage (module doc); owns the policy, the limits and the perception cache."""

    def __init__(self, policy: SourcePolicy, limits: ImageLimits, cache_bytes: int = 64 * MB):
        self.policy = policy
        self.limits = limits
        self._cache_bytes = cache_bytes
        self._cache: BoundedCache[Facts] | None = None

    async def resolve(self, request: Request, vision: str | None) -> Request:
        """The request with its images described in place ("perception") or with their
        fitted pixels on the parts ("native"); unchanged without images."""
        found = images_of(request)
        if not found:
            return request
        if vision not in ("perception", "native"):
            raise no_vision(found)
        if len(found) > self.limits.max_images:
            raise ImageRefused(f"{len(found)} images in one request; at most "
                               f"{self.limits.max_images} are accepted.", param="messages",
                               code="too_many_images")
        native = vision == "native"
        images = await self._all(found, native)
        if native:  # the model sees them: the fitted pixels go on, in place
            return replace(request, messages=_with_pixels(request.messages or (), found, images))
        blocks = await self._described(images)
        return replace(request, messages=_placed(request.messages or (), found, blocks))

    async def _all(self, found: list[Found], native: bool = False) -> list[Image]:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._one(i, part, native)) for i, part in found]
        except* ImageRefused as refused:
            raise refused.exceptions[0] from None
        return [t.result() for t in tasks]

    async def _one(self, i: int, part: ImagePart, native: bool = False) -> Image:
        from openmini.vision.decode import decode
        from openmini.vision.sources import load_image_bytes

        try:
            data = part.data
            if data is None:
                data = await load_image_bytes(part.url or "", self.policy, self.limits)
            if native:
                return await asyncio.to_thread(_fitted, data, self.limits, part.detail)
            return await asyncio.to_thread(decode, data, self.limits)
        except ImageRefused as exc:
            raise exc.at(f"messages[{i}].content[{part.index}].image_url") from None

    async def _described(self, images: list[Image]) -> list[str]:
        from openmini.vision.perception import perceive, render

        cache = self._perception_cache()
        facts = await asyncio.gather(*(cache.get_or_compute(
            f"perception:{image.digest}", functools.partial(perceive, image.pixels),
            lambda f: 4 * len(render(f, 0)) + 1024) for image in images))
        return [render(f, n) for n, f in enumerate(facts, start=1)]

    def _perception_cache(self) -> BoundedCache[Facts]:
        if self._cache is None:
            from openmini.vision.cache import BoundedCache

            self._cache = BoundedCache(self._cache_bytes)
        return self._cache


def _placed(messages: tuple[ChatMessage, ...], found: list[Found], blocks: list[str]
            ) -> tuple[ChatMessage, ...]:
    """Each message's blocks put where its images stood, its images dropped."""
    by_message: dict[int, list[tuple[int, str]]] = {}
    for (i, part), block in zip(found, blocks, strict=True):
        by_message.setdefault(i, []).append((part.at, block))
    out = list(messages)
    for i, placed in by_message.items():
        text = messages[i].content
        for at, block in reversed(sorted(placed, key=lambda p: p[0])):  # stable: in order
            before, after = text[:at], text[at:]
            lead = "\n" if before and not before.endswith("\n") else ""
            trail = "\n" if after and not after.startswith("\n") else ""
            text = before + lead + block + trail + after
        out[i] = replace(messages[i], content=text, images=())
    return tuple(out)


def _fitted(data: bytes, limits: ImageLimits, detail: str) -> Image:
    """Decoded for its fit, then fitted (`decode.fit`): the pixels a native model is given."""
    from openmini.vision.decode import decode, fit

    image = decode(data, limits, detail=detail)
    pixels = fit(image, detail)
    if pixels is image.pixels:
        return image
    return replace(image, pixels=pixels, width=pixels.width, height=pixels.height)


def _with_pixels(messages: tuple[ChatMessage, ...], found: list[Found], images: list[Image]
                 ) -> tuple[ChatMessage, ...]:
    """Each image part given its fitted pixels (in place: its text stays as it is)."""
    by_part = {id(part): image for (_, part), image in zip(found, images, strict=True)}
    return tuple(
        replace(m, images=tuple(replace(p, pixels=by_part[id(p)].pixels) for p in m.images))
        if m.images else m for m in messages)
