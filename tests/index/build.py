"""An index made the way `openmini index add` makes it, for tests that need one ready in a
data directory before a server, a batch run or the API opens it."""

from __future__ import annotations

from pathlib import Path

from openmini.engine.embed import Embedder, EmbedSettings
from openmini.index.manager import IndexManager
from openmini.models import resolve_model


def add_index(data_dir: Path, root: Path, name: str) -> None:
    """Index `root` as `name` under `data_dir`/indexes with the real embedding model."""
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    manager = IndexManager(data_dir / "indexes", embedder)
    try:
        assert manager.add(root, name=name).status == "ready"
    finally:
        manager.close()
        embedder.close()
