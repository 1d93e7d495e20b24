"""The index's side of the embedding model (engine/embed.py): what it needs of one, and
texts cut to what the model reads.

Nothing is ever refused for length: a text longer than `max_tokens` (at most the model's
context, 512 for all-MiniLM-L6-v2) is cut, keeping its first tokens and the closing [SEP].
All-MiniLM-L6-v2 was trained on texts of up to 128 word pieces, and the index embeds that
much of a chunk (IndexSettings.embed_tokens; its own library cuts at 256): on networkx it
indexed 1.57x faster than at 256 and its vectors retrieved better (recall@5 0.676 against
0.630, docs/benchmarks.md). The text beyond is still found by full-text search.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from openmini.engine.embed import Embeddings, Input


class TextEmbedder(Protocol):
    """What the index uses of an embedding model (engine/embed.py's Embedder has it)."""

    dimensions: int
    context_length: int

    def tokenize(self, text: str) -> list[int]: ...

    def embed_sync(self, inputs: Sequence[Input], *, single: bool = False) -> Embeddings: ...


def token_inputs(embedder: TextEmbedder, texts: Sequence[str], max_tokens: int) -> list[
        list[int]]:
    """Each text's token ids ([CLS] ... [SEP]), cut to `max_tokens` (and the context)."""
    cap = max(2, min(max_tokens, embedder.context_length))
    out: list[list[int]] = []
    for text in texts:
        ids = embedder.tokenize(text)
        out.append(ids if len(ids) <= cap else [*ids[:cap - 1], ids[-1]])
    return out


def embed_texts(embedder: TextEmbedder, texts: Sequence[str], max_tokens: int) -> np.ndarray:
    """(len(texts), dimensions) float32 vectors of norm 1."""
    if not texts:
        return np.empty((0, embedder.dimensions), np.float32)
    return embedder.embed_sync(token_inputs(embedder, texts, max_tokens)).vectors


def open_default_embedder(cache_dir: Path | None = None, threads: int = 0) -> TextEmbedder:
    """The catalogue's embedding model (assembled on first use), on `threads` threads (0:
    every CPU this process may use: a command line indexing alone)."""
    from openmini.engine.embed import Embedder, EmbedSettings
    from openmini.models import resolve_model
    from openmini.models.catalogue import DEFAULT_EMBEDDING_MODEL

    path = resolve_model(DEFAULT_EMBEDDING_MODEL, cache_dir)
    threads = threads or max(1, len(os.sched_getaffinity(0)))
    return Embedder(path, EmbedSettings(threads=threads))
