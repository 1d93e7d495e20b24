"""Vector search (index/vectors.py): top k by cosine in order, filters, and the cache
reloaded when the store's generation moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openmini.index.chunk import Chunk
from openmini.index.filters import Filters, path_matches
from openmini.index.store import FileRecord, IndexStore
from openmini.index.vectors import VectorCache, VectorSet


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def fill(tmp_path: Path) -> IndexStore:
    store = IndexStore(tmp_path / "v.db")
    store.init("v", "/src", "m", 3)
    rows = [("src/a.py", "python", "function", unit(1, 0, 0)),
            ("src/b.py", "python", "method", unit(0.9, 0.1, 0)),
            ("lib/c.go", "go", "function", unit(0, 1, 0)),
            ("lib/d.go", "go", "function", unit(-1, 0, 0))]
    store.write_files([(FileRecord(p, 1, 1, p, lang),
                        [Chunk(p, 1, 1, p, kind, lang, p)], [v.tobytes()])
                       for p, lang, kind, v in rows])
    return store


def ids_to_paths(store: IndexStore, found: list[tuple[int, float]]) -> list[str]:
    rows = store.rows([i for i, _ in found])
    return [rows[i].path for i, _ in found]


def test_top_k_by_cosine(tmp_path: Path) -> None:
    store = fill(tmp_path)
    vectors = VectorSet.load(store, 3)
    found = vectors.top(unit(1, 0, 0), 3, Filters())
    assert ids_to_paths(store, found) == ["src/a.py", "src/b.py", "lib/c.go"]
    assert found[0][1] == np.float32(1.0) or abs(found[0][1] - 1) < 1e-6
    assert len(vectors.top(unit(1, 0, 0), 50, Filters())) == 4


def test_filters_apply_before_the_cut(tmp_path: Path) -> None:
    store = fill(tmp_path)
    vectors = VectorSet.load(store, 3)
    q = unit(1, 0, 0)
    assert ids_to_paths(store, vectors.top(q, 1, Filters(language="go"))) == ["lib/c.go"]
    assert ids_to_paths(store, vectors.top(q, 5, Filters(kind="method"))) == ["src/b.py"]
    assert ids_to_paths(store, vectors.top(q, 5, Filters(path="lib"))) == [
        "lib/c.go", "lib/d.go"]
    assert vectors.top(q, 5, Filters(path="none/*", language="go")) == []


def test_the_cache_reloads_after_a_write(tmp_path: Path) -> None:
    store = fill(tmp_path)
    cache = VectorCache()
    first = cache.get("v", store, 3)
    assert cache.get("v", store, 3) is first
    store.remove_files(["src/a.py"])
    second = cache.get("v", store, 3)
    assert second is not first and len(second.ids) == 3


def test_path_globs() -> None:
    assert path_matches("src/*.py", "src/a/b.py")  # fnmatch: * crosses /
    assert path_matches("*.go", "lib/c.go") and not path_matches("*.go", "lib/c.gox")
    assert path_matches("src", "src/a.py") and path_matches("src/", "src/a.py")
    assert not path_matches("src", "srcs/a.py") and path_matches("src/a.py", "src/a.py")
    assert not path_matches("SRC/*", "src/a.py")
