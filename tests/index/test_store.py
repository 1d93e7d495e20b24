"""The index store (index/store.py): migrations, files rewritten with their chunks and full
text in one transaction, removal, vectors found by key, WAL readers beside a writer."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from openmini.errors import NotFound
from openmini.index.chunk import Chunk
from openmini.index.filters import Filters
from openmini.index.store import MIGRATIONS, FileRecord, IndexStore


def chunk(path: str, symbol: str, text: str) -> Chunk:
    return Chunk(path, 1, 2, symbol, "function", "python", text)


def vector(seed: int) -> bytes:
    v = np.random.default_rng(seed).standard_normal(4).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    s = IndexStore(tmp_path / "i.db")
    s.init("i", "/src", "all-minilm-l6-v2", 4)
    return s


def test_migrated_and_in_wal_mode(store: IndexStore) -> None:
    conn = store.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    info = store.info()
    assert info is not None and (info.name, info.status, info.files, info.chunks) == (
        "i", "indexing", 0, 0)


def test_rewriting_a_file_replaces_its_chunks_and_full_text(store: IndexStore) -> None:
    a = FileRecord("a.py", 10, 1, "h1", "python")
    store.write_files([(a, [chunk("a.py", "oldName", "def oldName(): pass")], [vector(1)])])
    generation = store.generation()
    assert store.bm25('"oldname"', 5, Filters(), (1, 1, 1, 1))
    store.write_files([(FileRecord("a.py", 12, 2, "h2", "python"),
                        [chunk("a.py", "newName", "def newName(): pass"),
                         chunk("a.py", "other", "def other(): pass")], [vector(2), vector(3)])])
    assert store.generation() == generation + 1
    assert store.bm25('"oldname"', 5, Filters(), (1, 1, 1, 1)) == []
    assert len(store.bm25('"name"', 5, Filters(), (1, 1, 1, 1))) == 1  # newName, split
    fts_rows = store.connection().execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert fts_rows == 2
    assert store.files()["a.py"].sha256 == "h2"
    info = store.info()
    assert info is not None and (info.files, info.chunks) == (1, 2)


def test_vectors_by_key_and_removal(store: IndexStore) -> None:
    c = chunk("a.py", "f", "def f(): pass")
    store.write_files([(FileRecord("a.py", 1, 1, "h"), [c], [vector(7)])])
    assert store.vectors_for([c.key(), "missing"]) == {c.key(): vector(7)}
    store.remove_files(["a.py"])
    assert store.vectors_for([c.key()]) == {}
    assert store.connection().execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == 0


def test_skipped_files_are_not_counted(store: IndexStore) -> None:
    store.write_files([(FileRecord("a.bin", 5, 1, "h", None, "binary"), [], [])])
    info = store.info()
    assert info is not None and info.files == 0
    assert store.files()["a.bin"].skipped == "binary"


def test_a_reader_reads_while_a_writer_holds_its_transaction(store: IndexStore) -> None:
    store.write_files([(FileRecord("a.py", 1, 1, "h"), [chunk("a.py", "f", "x")],
                        [vector(1)])])
    seen: list[int] = []
    with store.transaction() as tx:
        tx.execute("DELETE FROM chunks")
        reader = threading.Thread(target=lambda: seen.append(
            store.connection().execute("SELECT count(*) FROM chunks").fetchone()[0]))
        reader.start()
        reader.join()
    assert seen == [1]  # the last committed state, not blocked


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        IndexStore(tmp_path / "new.db")


def test_a_closed_store_never_recreates_its_file(store: IndexStore) -> None:
    store.close()
    store.path.unlink()
    with pytest.raises(NotFound):
        store.info()
    assert not store.path.exists()
