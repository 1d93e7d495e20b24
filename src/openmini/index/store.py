"""One index's store: a SQLite database (WAL) of its files, chunks, vectors and full text.

One database per index (`<data dir>/indexes/<name>.db`): removing an index is removing its
files, indexes are written independently, and each has its own numbered migrations
(`PRAGMA user_version`, as batch/store.py). Every thread gets its own connection; WAL lets
searches read while an update writes, and a reader sees the last committed batch.

Tables: `info` (one row: name, root, status, error, embedding model, dimensions, times and a
`generation` bumped by every change to the chunks, which is what the vector cache is keyed
by), `files` (path, size, mtime_ns, sha256, language; `skipped` says why a file read has no
chunks: "binary", "generated"), `chunks` (lines, symbol, kind, language, text, `key`: the
reuse hash of chunk.Chunk.key, the vector as float32 bytes) and `chunks_fts`, an FTS5 table
(unicode61) over each chunk's path, symbol, text and split identifiers (idents.py), its rowid
the chunk's id.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmini.errors import NotFound
from openmini.index.chunk import Chunk
from openmini.index.filters import Filters, path_matches
from openmini.index.idents import identifier_words, split_identifier
from openmini.sqlite import migrate, transaction

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE info (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        root TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        model TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        language TEXT,
        skipped TEXT
    );
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        start_line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        symbol TEXT,
        kind TEXT NOT NULL,
        language TEXT,
        text TEXT NOT NULL,
        key TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX chunks_by_file ON chunks (file_id);
    CREATE INDEX chunks_by_key ON chunks (key);
    CREATE VIRTUAL TABLE chunks_fts USING fts5 (path, symbol, body, idents,
                                                tokenize = 'unicode61')
    """,
)
STATUSES = ("indexing", "ready", "failed")


@dataclass(frozen=True, slots=True)
class IndexInfo:
    name: str
    path: str  # the root, absolute
    status: str  # "indexing" | "ready" | "failed"
    files: int  # files with chunks (or none: empty files), skipped ones not counted
    chunks: int
    error: str | None
    model: str
    dimensions: int
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "status": self.status,
                "files": self.files, "chunks": self.chunks, "error": self.error,
                "model": self.model, "created_at": self.created_at,
                "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    size: int
    mtime_ns: int
    sha256: str
    language: str | None = None
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A stored chunk, as search returns it."""

    id: int
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    language: str | None
    text: str


class IndexStore:
    """The database at `path`, created (with `create`) or opened (`open`)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.closed = False
        self._migrate()
        self.inode = path.stat().st_ino  # which file this is (managers notice a new one)

    # --- connections --------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.closed:  # removed: never recreate its file
                raise NotFound(f"The index at {self.path} was removed.",
                               code="index_not_found")
            # check_same_thread off only so that close() can close every thread's connection;
            # each is used by its own thread alone.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # an index can be rebuilt: no fsync each
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("path_match", 2, path_matches, deterministic=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception)."""
        return transaction(self.connection())

    def _migrate(self) -> None:
        migrate(self.connection(), MIGRATIONS, self.path)

    def close(self) -> None:
        self.closed = True
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # --- the index's row ----------------------------------------------------------------

    def init(self, name: str, root: str, model: str, dimensions: int) -> None:
        now = int(time.time())
        with self.transaction() as tx:
            tx.execute("INSERT INTO info (id, name, root, status, model, dimensions, "
                       "created_at, updated_at) VALUES (1, ?, ?, 'indexing', ?, ?, ?, ?)",
                       (name, root, model, dimensions, now, now))

    def info(self) -> IndexInfo | None:
        conn = self.connection()
        row = conn.execute("SELECT name, root, status, error, model, dimensions, created_at, "
                           "updated_at FROM info WHERE id = 1").fetchone()
        if row is None:
            return None
        files = conn.execute("SELECT count(*) FROM files WHERE skipped IS NULL").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        name, root, status, error, model, dimensions, created, updated = row
        return IndexInfo(name, root, status, files, chunks, error, model, dimensions,
                         created, updated)

    def set_status(self, status: str, error: str | None = None) -> None:
        assert status in STATUSES
        with self.transaction() as tx:
            tx.execute("UPDATE info SET status = ?, error = ?, updated_at = ? WHERE id = 1",
                       (status, error, int(time.time())))

    def generation(self) -> int:
        row = self.connection().execute("SELECT generation FROM info WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    # --- files and chunks ---------------------------------------------------------------

    def files(self) -> dict[str, FileRecord]:
        rows = self.connection().execute(
            "SELECT path, size, mtime_ns, sha256, language, skipped FROM files")
        return {r[0]: FileRecord(*r) for r in rows}

    def vectors_for(self, keys: list[str]) -> dict[str, bytes]:
        """Stored vectors by chunk key, for the keys that have one."""
        found: dict[str, bytes] = {}
        conn = self.connection()
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            found.update(conn.execute(
                f"SELECT key, vector FROM chunks WHERE key IN ({marks})", part).fetchall())
        return found

    def write_files(self, files: list[tuple[FileRecord, list[Chunk], list[bytes]]]) -> None:
        """Files (re)written with their chunks and vectors, in one transaction."""
        with self.transaction() as tx:
            for record, chunks, vectors in files:
                _delete_chunks(tx, "file_id = (SELECT id FROM files WHERE path = ?)",
                               (record.path,))
                tx.execute("INSERT INTO files (path, size, mtime_ns, sha256, language, skipped) "
                           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                           "size = excluded.size, mtime_ns = excluded.mtime_ns, "
                           "sha256 = excluded.sha256, language = excluded.language, "
                           "skipped = excluded.skipped",
                           (record.path, record.size, record.mtime_ns, record.sha256,
                            record.language, record.skipped))
                file_id = tx.execute("SELECT id FROM files WHERE path = ?",
                                     (record.path,)).fetchone()[0]
                for chunk, vector in zip(chunks, vectors, strict=True):
                    _insert_chunk(tx, file_id, chunk, vector)
            _bump(tx)

    def touch_files(self, records: list[FileRecord]) -> None:
        """New size and mtime for files whose content did not change."""
        with self.transaction() as tx:
            tx.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                           [(r.size, r.mtime_ns, r.path) for r in records])

    def remove_files(self, paths: list[str]) -> None:
        with self.transaction() as tx:
            for path in paths:
                _delete_chunks(tx, "file_id = (SELECT id FROM files WHERE path = ?)", (path,))
                tx.execute("DELETE FROM files WHERE path = ?", (path,))
            _bump(tx)

    # --- reads for search ---------------------------------------------------------------

    def vector_snapshot(self) -> tuple[int, list[Any], dict[int, str]]:
        """(generation, chunk rows (id, file id, language, kind, vector), file paths by id),
        read in one transaction so the three agree."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            generation = self.generation()
            rows = conn.execute("SELECT id, file_id, language, kind, vector FROM chunks "
                                "ORDER BY id").fetchall()
            paths = dict(conn.execute("SELECT id, path FROM files").fetchall())
        finally:
            conn.execute("COMMIT")
        return generation, rows, paths

    def bm25(self, match: str, limit: int, filters: Filters,
             weights: tuple[float, ...]) -> list[tuple[int, float]]:
        """(chunk id, score) of the best full-text matches, best first; the score is FTS5's
        bm25() negated (higher is better)."""
        where, args = ["chunks_fts MATCH ?"], [match]
        if filters.language is not None:
            where.append("c.language = ?")
            args.append(filters.language)
        if filters.kind is not None:
            where.append("c.kind = ?")
            args.append(filters.kind)
        if filters.path is not None:
            where.append("path_match(?, f.path)")
            args.append(filters.path)
        marks = ", ".join(str(float(w)) for w in weights)
        joins = ("" if len(where) == 1 else  # no filter: the full-text table alone
                 "JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id ")
        sql = (f"SELECT chunks_fts.rowid, bm25(chunks_fts, {marks}) AS score FROM chunks_fts "
               f"{joins}WHERE {' AND '.join(where)} ORDER BY score LIMIT ?")
        rows = self.connection().execute(sql, [*args, limit]).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def rows(self, ids: list[int]) -> dict[int, Row]:
        found: dict[int, Row] = {}
        conn = self.connection()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            marks = ",".join("?" * len(part))
            for r in conn.execute(
                    "SELECT c.id, f.path, c.start_line, c.end_line, c.symbol, c.kind, "
                    f"c.language, c.text FROM chunks c JOIN files f ON f.id = c.file_id "
                    f"WHERE c.id IN ({marks})", part):
                found[r[0]] = Row(*r)
        return found


def _delete_chunks(tx: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
    tx.execute(f"DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE {where})",
               args)
    tx.execute(f"DELETE FROM chunks WHERE {where}", args)


def _insert_chunk(tx: sqlite3.Connection, file_id: int, chunk: Chunk, vector: bytes) -> None:
    cursor = tx.execute(
        "INSERT INTO chunks (file_id, start_line, end_line, symbol, kind, language, text, key, "
        "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (file_id, chunk.start_line, chunk.end_line, chunk.symbol, chunk.kind, chunk.language,
         chunk.text, chunk.key(), vector))
    symbol = chunk.symbol or ""
    tx.execute("INSERT INTO chunks_fts (rowid, path, symbol, body, idents) "
               "VALUES (?, ?, ?, ?, ?)",
               (cursor.lastrowid, chunk.path + " " + " ".join(split_identifier(chunk.path)),
                symbol + " " + identifier_words(symbol), chunk.text,
                identifier_words(chunk.text)))


def _bump(tx: sqlite3.Connection) -> None:
    tx.execute("UPDATE info SET generation = generation + 1, updated_at = ? WHERE id = 1",
               (int(time.time()),))


def db_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.db"
