"""The batch store: one SQLite database (WAL) under the data directory, with numbered migrations.

Files' bytes live on disk beside it (batch/files.py); their records, batches and each batch's
lines live here. Every thread gets its own connection (sqlite3 connections are not shared
across threads); WAL lets readers go on while one writer commits. A line's result is written
in the same transaction that marks it done, so after a crash a line is either done (once) or
still pending (and runs again): never lost, never counted twice.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from openmini.sqlite import migrate, transaction

# Each entry upgrades the schema by one version; never edit one that has shipped, add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        filename TEXT NOT NULL,
        purpose TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        sha256 TEXT NOT NULL
    );
    CREATE INDEX files_by_purpose ON files (purpose, created_at);
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        input_file_id TEXT NOT NULL,
        completion_window TEXT NOT NULL,
        status TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        in_progress_at INTEGER,
        expires_at INTEGER,
        finalizing_at INTEGER,
        completed_at INTEGER,
        failed_at INTEGER,
        expired_at INTEGER,
        cancelling_at INTEGER,
        cancelled_at INTEGER,
        output_file_id TEXT,
        error_file_id TEXT,
        errors TEXT,
        metadata TEXT,
        total INTEGER NOT NULL DEFAULT 0,
        model TEXT,
        outcome TEXT,
        output_expires_s INTEGER
    );
    CREATE INDEX batches_by_status ON batches (status, priority, created_at);
    CREATE TABLE lines (
        batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
        line INTEGER NOT NULL,
        custom_id TEXT NOT NULL,
        body TEXT NOT NULL,
        digest TEXT,
        prefix TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        status_code INTEGER,
        request_id TEXT,
        response TEXT,
        error TEXT,
        dedup_of INTEGER,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (batch_id, line)
    );
    CREATE INDEX lines_pending ON lines (batch_id, state, prefix, line);
    CREATE INDEX lines_by_digest ON lines (batch_id, digest) WHERE digest IS NOT NULL;
    """,
)


class Store:
    """The database at `path` (created and migrated on first use)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a committed result survives a power cut
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception)."""
        return transaction(self.connection())

    def version(self) -> int:
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        migrate(self.connection(), MIGRATIONS, self.path)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
