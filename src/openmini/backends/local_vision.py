"""Native vision for the local backend: the model's projector (mmproj GGUF) turns each image
into embeddings the engine decodes in the image's place (engine/images.py).

A chat prompt is rendered with `Projector.marker()` where each image stands and split by
mtmd_tokenize, as llama.cpp's server does (a model's wrapper tokens around an image come as
text). Images are encoded off the event loop, one at a time under the projector's lock;
embeddings are kept in an LRU keyed by pixel digest, so a second request with the same image
encodes nothing and (engine/prefix_cache.py) reuses its KV cells.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from openmini.engine.images import ImageSpan, placeholder
from openmini.engine.vision import ImageEmbedding, Projector
from openmini.errors import ModelAssemblyError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from openmini.engine.model import LlamaModel

CACHE_BYTES = 256 * 1024 * 1024  # embeddings kept: ~0.9 MB per 256-row image at width 896


class NativeVision:
    def __init__(self, mmproj: str | Path, model: LlamaModel, threads: int,
                 cache_bytes: int = CACHE_BYTES):
        self.projector = Projector(mmproj, model.model, threads=threads)
        try:
            self._refuse_unsupported(model.settings.n_batch)
        except BaseException:
            self.projector.close()
            raise
        self._cache: OrderedDict[str, ImageEmbedding] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._held = 0
        self._lock = threading.Lock()

    def _refuse_unsupported(self, batch_size: int) -> None:
        """A projector without vision, or whose non-causal images (Gemma 3: decoded whole,
        in one llama_decode) would not fit a decode, is refused at load. M-RoPE needs nothing
        here: mtmd decides it from the text model (llama's rope type), as llama.cpp's server
        does, and gives each image its planes (engine/vision.py)."""
        from PIL import Image

        name = self.projector.path.name
        if not self.projector.vision:
            raise ModelAssemblyError(f"the projector {name} takes no images")
        probe = self.projector.encode(Image.new("RGB", (32, 32), (128, 128, 128)))
        if probe.non_causal and probe.n_tokens > batch_size:
            raise ModelAssemblyError(
                f"the projector {name} makes images of {probe.n_tokens} rows decoded in one "
                f"piece (non-causal attention, Gemma 3 style): raise the config key "
                f"batch_size to at least that (it is {batch_size})")

    def marker(self) -> str:
        return self.projector.marker()

    def tokens(self, text: str, images: list[PILImage], add_special: bool
               ) -> tuple[list[int], tuple[ImageSpan, ...]]:
        """The prompt's ids (each image's rows as its placeholder id) and its image spans.
        Blocking (encodes): run it in a thread."""
        pieces = self.projector.prompt(text, images, add_special=add_special, known=self._get)
        prompt: list[int] = []
        spans: list[ImageSpan] = []
        for piece in pieces:
            if isinstance(piece, ImageEmbedding):
                spans.append(ImageSpan(len(prompt), piece))
                prompt.extend([placeholder(piece.digest)] * piece.n_tokens)
                self._put(piece)
            else:
                prompt.extend(piece)
        return prompt, tuple(spans)

    def _get(self, digest: str) -> ImageEmbedding | None:
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
            return hit

    def _put(self, embedding: ImageEmbedding) -> None:
        with self._lock:
            if embedding.digest in self._cache or not embedding.digest:
                return
            self._cache[embedding.digest] = embedding
            self._held += embedding.embd.nbytes
            while self._held > self._cache_bytes and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._held -= old.embd.nbytes

    def close(self) -> None:
        self.projector.close()
