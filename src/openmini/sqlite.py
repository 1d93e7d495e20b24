"""What every SQLite store of openmini shares (batch/store.py, index/store.py): a
transaction, and numbered migrations kept in `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, migrations: Sequence[str], path: Path) -> None:
    """Run the migrations the database has not had yet, each with its version, in one
    transaction; a database newer than `migrations` is refused."""
    with transaction(conn) as tx:
        current = int(tx.execute("PRAGMA user_version").fetchone()[0])
        if current > len(migrations):
            raise RuntimeError(f"{path} has schema version {current}, newer than this "
                               f"openmini knows ({len(migrations)}): upgrade openmini")
        for number in range(current, len(migrations)):
            for statement in migrations[number].split(";"):
                if statement.strip():
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {number + 1}")
