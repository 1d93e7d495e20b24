"""The batch store (batch/store.py): numbered migrations, run once; a newer database refused;
WAL; a transaction that rolls back on an exception."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from openmini.batch import store as store_module
from openmini.batch.store import MIGRATIONS, Store

TABLES = {"files", "batches", "lines"}


def tables(store: Store) -> set[str]:
    rows = store.connection().execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def test_a_new_database_is_migrated_to_the_last_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "deep" / "dir" / "openmini.sqlite3")  # parents are created
    assert store.version() == len(MIGRATIONS)
    assert tables(store) >= TABLES
    indexes = {row[0] for row in store.connection().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"files_by_purpose", "batches_by_status", "lines_pending", "lines_by_digest"} <= indexes
    store.close()


def test_reopening_keeps_the_data_and_runs_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "openmini.sqlite3"
    first = Store(path)
    with first.transaction() as tx:
        tx.execute("INSERT INTO files (id, filename, purpose, bytes, created_at, sha256) "
                   "VALUES ('file-a', 'a.jsonl', 'batch', 1, 1, 'x')")
    first.close()
    # Were the first migration run again, its CREATE TABLE would fail on the existing tables.
    second = Store(path)
    assert second.version() == len(MIGRATIONS)
    assert second.connection().execute("SELECT id FROM files").fetchall()[0][0] == "file-a"
    second.close()


def test_only_the_new_migrations_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "openmini.sqlite3"
    Store(path).close()
    extra = "CREATE TABLE later (x INTEGER); INSERT INTO later VALUES (1)"
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, extra))
    upgraded = Store(path)
    assert upgraded.version() == len(MIGRATIONS) + 1
    assert upgraded.connection().execute("SELECT COUNT(*) FROM later").fetchone()[0] == 1
    upgraded.close()
    again = Store(path)  # the extra migration is not run twice (one row, no error)
    assert again.connection().execute("SELECT COUNT(*) FROM later").fetchone()[0] == 1
    again.close()


def test_a_failing_migration_leaves_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "openmini.sqlite3"
    Store(path).close()
    monkeypatch.setattr(store_module, "MIGRATIONS",
                        (*MIGRATIONS, "CREATE TABLE half (x); SELECT * FROM missing_table"))
    with pytest.raises(sqlite3.OperationalError):
        Store(path)
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    store = Store(path)
    assert store.version() == len(MIGRATIONS)
    assert "half" not in tables(store)
    store.close()


def test_a_database_from_a_newer_openmini_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "openmini.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError) as refused:
        Store(path)
    message = str(refused.value)
    assert str(path) in message and "newer" in message and "upgrade openmini" in message
    assert f"version {len(MIGRATIONS) + 1}" in message
    check = sqlite3.connect(path)  # left untouched
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert check.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    check.close()


def test_wal_and_full_sync(tmp_path: Path) -> None:
    store = Store(tmp_path / "openmini.sqlite3")
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    other = sqlite3.connect(tmp_path / "openmini.sqlite3")  # WAL is kept in the file itself
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    store.close()


def test_a_transaction_rolls_back_on_an_exception(tmp_path: Path) -> None:
    store = Store(tmp_path / "openmini.sqlite3")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        tx.execute("INSERT INTO files (id, filename, purpose, bytes, created_at, sha256) "
                   "VALUES ('file-a', 'a.jsonl', 'batch', 1, 1, 'x')")
        raise Boom
    assert store.connection().execute("SELECT COUNT(*) FROM files").fetchone()[0] == 0
    store.close()


def test_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    store = Store(tmp_path / "openmini.sqlite3")
    seen: list[sqlite3.Connection] = []

    def elsewhere() -> None:
        seen.append(store.connection())
        store.close()  # this thread's connection

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen[0] is not store.connection()
    assert store.connection() is store.connection()
    store.close()
