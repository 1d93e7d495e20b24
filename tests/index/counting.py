"""An embedder that counts what it is asked to embed (the real model underneath)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openmini.engine.embed import Embedder, Embeddings


class Counting:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.dimensions = inner.dimensions
        self.context_length = inner.context_length
        self.texts = 0

    def tokenize(self, text: str) -> list[int]:
        return self.inner.tokenize(text)

    def embed_sync(self, inputs: Sequence[Any], *, single: bool = False) -> Embeddings:
        self.texts += len(inputs)
        return self.inner.embed_sync(inputs, single=single)
