"""Fixtures of the index tests: the real embedding model (all-minilm-l6-v2, one thread,
loaded once), an embedder that counts what it embeds, a tree writer and a manager over a
fresh data directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.counting import Counting
from openmini.engine.embed import Embedder, EmbedSettings
from openmini.index.indexer import IndexSettings
from openmini.index.manager import IndexManager
from openmini.models import resolve_model


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[Embedder]:
    model = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    yield model
    model.close()


@pytest.fixture
def embedder(real_embedder: Embedder) -> Counting:
    return Counting(real_embedder)


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Files under `root` ({relative path: text or bytes}); returns root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    def make(files: dict[str, str | bytes]) -> Path:
        return write_tree(tmp_path / "repo", files)
    return make


@pytest.fixture
def manager(tmp_path: Path, embedder: Counting) -> Iterator[IndexManager]:
    m = IndexManager(tmp_path / "data" / "indexes", embedder,
                     settings=IndexSettings(write_chunks=4))
    yield m
    m.close()
