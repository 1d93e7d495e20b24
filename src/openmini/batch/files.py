"""Files (OpenAI's Files API): bytes on disk at `root/files/<id>`, records in the store's
`files` table (batch/store.py).

Bytes are written to a temporary file in the same directory (counted and hashed as they
come, refused past `max_bytes`), fsynced, then renamed into place; the row is inserted last.
A crash leaves at most a temporary file or bytes without a row: both are removed when the
next FileStore opens the directory. A filename is metadata only, never part of a path; an
id must match `file-[A-Za-z0-9_]{1,64}` before any path is built from it (anything else is a
404). Every method is synchronous and safe to call from any thread (the store gives each
thread its own connection); the server calls them in its thread pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from openmini.batch.store import Store
from openmini.errors import InvalidRequest, NotFound, PayloadTooLarge

log = logging.getLogger("openmini.batch")

UPLOAD_PURPOSES = ("batch", "user_data")  # what POST /v1/files takes
PURPOSES = (*UPLOAD_PURPOSES, "batch_output")  # ...and what the batch runner writes
ORDERS = ("asc", "desc")
MAX_LIST = 10_000
MAX_FILENAME = 255  # characters
CHUNK = 1024 * 1024
DAY_S = 86_400
TEMP_PREFIX = ".partial-"
_ID = re.compile(r"file-[A-Za-z0-9_]{1,64}")


class Sink(Protocol):
    """Where a writer passed to `FileStore.create` writes its bytes."""

    def write(self, data: bytes, /) -> int: ...


# What `create` takes: the bytes, chunks of them, or a function that writes them to a Sink.
Content = bytes | Iterable[bytes] | Callable[[Sink], object]


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def is_file_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def clean_filename(name: str) -> str:
    """`name` without directory parts; a 400 (naming `file`) when nothing is left, when it is
    longer than MAX_FILENAME characters or holds control characters."""
    base = re.split(r"[/\\]", name)[-1].strip()
    if base in ("", ".", ".."):
        raise InvalidRequest("The file has no filename.", param="file", code="invalid_filename")
    if len(base) > MAX_FILENAME:
        raise InvalidRequest(f"The filename is longer than {MAX_FILENAME} characters.",
                             param="file", code="invalid_filename")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in base):
        raise InvalidRequest("The filename holds control characters.", param="file",
                             code="invalid_filename")
    return base


def check_upload_purpose(value: object) -> str:
    """`value` if it is a purpose an upload may have, else a 400 naming `purpose`."""
    if value is None:
        raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose",
                             code="missing_required_parameter")
    if not isinstance(value, str) or value not in UPLOAD_PURPOSES:
        shown = value[:64] if isinstance(value, str) else "a file"
        raise InvalidRequest(f"Invalid value for 'purpose': {shown!r}; expected one of "
                             f"{', '.join(map(repr, UPLOAD_PURPOSES))}.", param="purpose",
                             code="invalid_value")
    return value


def _not_found(file_id: str, param: str = "file_id") -> NotFound:
    return NotFound(f"No such File object: {file_id[:100]!r}.", param=param)


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int | None
    sha256: str

    def to_api(self) -> dict[str, Any]:
        """OpenAI's File object."""
        return {"id": self.id, "object": "file", "bytes": self.bytes,
                "created_at": self.created_at, "filename": self.filename,
                "purpose": self.purpose, "expires_at": self.expires_at,
                "status": "processed", "status_details": None}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FileRecord:
        return cls(row["id"], row["filename"], row["purpose"], row["bytes"],
                   row["created_at"], row["expires_at"], row["sha256"])


class _Sink:
    """Writes to `fh`, counting and hashing; past `limit` bytes, a 413 naming `file`."""

    def __init__(self, fh: BinaryIO, limit: int | None):
        self.fh, self.limit = fh, limit
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise PayloadTooLarge(f"The file is larger than {self.limit} bytes "
                                  "(batch_max_bytes).", param="file", code="file_too_large")
        self.hash.update(data)
        self.fh.write(data)
        return len(data)


def _filler(content: Content) -> Callable[[Sink], object]:
    if isinstance(content, bytes | bytearray | memoryview):
        return lambda sink: sink.write(bytes(content))
    if callable(content):
        return content

    def write_chunks(sink: Sink) -> None:
        for chunk in content:
            sink.write(chunk)
    return write_chunks


class FileStore:
    """Files under `root/files`, their records in `store`. Uploads past `max_bytes` are
    refused; batch uploads (unless given an expiry) and files the runner writes expire after
    `ttl_days` (0: kept until deleted)."""

    def __init__(self, store: Store, root: Path, max_bytes: int, ttl_days: int):
        self.store, self.max_bytes, self.ttl_days = store, max_bytes, ttl_days
        self.dir = root / "files"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()

    def save(self, source: BinaryIO, filename: str, purpose: str,
             expires_after_s: int | None = None) -> FileRecord:
        """An upload: `source` read from where it stands, in chunks, to its end."""
        purpose, filename = check_upload_purpose(purpose), clean_filename(filename)

        def copy(sink: _Sink) -> None:
            while chunk := source.read(CHUNK):
                sink.write(chunk)
            if sink.size == 0:
                raise InvalidRequest("The file is empty.", param="file", code="empty_file")

        file_id = new_file_id()
        sink = self._write(file_id, copy, self.max_bytes)
        if expires_after_s is None and purpose == "batch":
            expires_after_s = self._ttl_s()
        return self._insert(file_id, filename, purpose, sink, expires_after_s)

    def create(self, content: Content, filename: str, purpose: str = "batch_output",
               file_id: str | None = None, expires_after_s: int | None = None) -> FileRecord:
        """A file written by the server itself (a batch's output or error file). A given
        `file_id` is overwritten, so a re-run writes the same file again. No size limit.
        It expires after `expires_after_s` seconds, else after ttl_days (0: never)."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
        file_id = new_file_id() if file_id is None else file_id
        if not is_file_id(file_id):
            raise ValueError(f"not a file id: {file_id!r}")
        filename = clean_filename(filename)
        sink = self._write(file_id, _filler(content), None)
        if expires_after_s is None:
            expires_after_s = self._ttl_s()
        return self._insert(file_id, filename, purpose, sink, expires_after_s)

    def get(self, file_id: str) -> FileRecord:
        row = None
        if is_file_id(file_id):
            row = self.store.connection().execute(
                "SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            raise _not_found(file_id)
        return FileRecord.from_row(row)

    def path(self, file_id: str) -> Path:
        """Where the file's bytes are (a 404 for an unknown id)."""
        path = self.dir / self.get(file_id).id
        if not path.is_file():
            raise NotFound(f"The content of {file_id} is missing.", param="file_id")
        return path

    def delete(self, file_id: str) -> None:
        """The record, then the bytes (a 404 for an unknown id)."""
        if not self._remove(self.get(file_id).id):
            raise _not_found(file_id)

    def sweep(self, now: int | None = None) -> int:
        """Deletes the files expired at `now` (default: now); how many."""
        now = int(time.time()) if now is None else now
        rows = self.store.connection().execute(
            "SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (now,)).fetchall()
        return sum(self._remove(row["id"]) for row in rows)

    def list(self, purpose: str | None = None, limit: int = MAX_LIST, after: str | None = None,
             order: str = "desc") -> tuple[tuple[FileRecord, ...], bool]:
        """Up to `limit` files by creation time (then id), those after the file `after` in
        that order; and whether there are more."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIST}.",
                                 param="limit", code="invalid_value")
        if order not in ORDERS:
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order",
                                 code="invalid_value")
        where: list[str] = ["1"]
        args: list[object] = []
        if purpose is not None:
            where.append("purpose = ?")
            args.append(purpose)
        if after is not None:
            cursor = self._cursor(after)
            where.append(f"(created_at, id) {'<' if order == 'desc' else '>'} (?, ?)")
            args += [cursor.created_at, cursor.id]
        direction = order.upper()
        rows = self.store.connection().execute(
            f"SELECT * FROM files WHERE {' AND '.join(where)} "
            f"ORDER BY created_at {direction}, id {direction} LIMIT ?",
            (*args, limit + 1)).fetchall()
        return tuple(FileRecord.from_row(r) for r in rows[:limit]), len(rows) > limit

    def _cursor(self, after: str) -> FileRecord:
        try:
            return self.get(after)
        except NotFound:
            raise _not_found(after, param="after") from None

    def _write(self, file_id: str, fill: Callable[[_Sink], object],
               limit: int | None) -> _Sink:
        """`fill` writes to a temporary file, which becomes `dir/file_id` once synced."""
        fd, temp = tempfile.mkstemp(dir=self.dir, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                sink = _Sink(fh, limit)
                fill(sink)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, self.dir / file_id)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)
        return sink

    def _ttl_s(self) -> int | None:
        return self.ttl_days * DAY_S if self.ttl_days else None

    def _insert(self, file_id: str, filename: str, purpose: str, sink: _Sink,
                expires_after_s: int | None) -> FileRecord:
        """The record of bytes `sink` wrote, created now (replacing one with its id)."""
        now = int(time.time())
        expires_at = None if expires_after_s is None else now + expires_after_s
        record = FileRecord(file_id, filename, purpose, sink.size, now, expires_at,
                            sink.hash.hexdigest())
        with self.store.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO files (id, filename, purpose, bytes, created_at, "
                       "expires_at, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (record.id, record.filename, record.purpose, record.bytes,
                        record.created_at, record.expires_at, record.sha256))
        return record

    def _remove(self, file_id: str) -> bool:
        """Removes the row, then the bytes; whether there was a row."""
        with self.store.transaction() as tx:
            gone = tx.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0
        (self.dir / file_id).unlink(missing_ok=True)
        return gone

    def _remove_orphans(self) -> None:
        """Temporary files a crash left, and bytes whose row was never written."""
        known = {r["id"] for r in self.store.connection().execute("SELECT id FROM files")}
        for entry in self.dir.iterdir():
            name = entry.name
            orphan = name.startswith(TEMP_PREFIX) or (is_file_id(name) and name not in known)
            if orphan and entry.is_file():
                log.info("removing orphan file %s", entry)
                entry.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def sweep_periodically(files: FileStore, every_s: float = 3600.0) -> None:
    """`files.sweep()` now and every `every_s` seconds after (in a thread), until cancelled."""
    while True:
        try:
            removed = await asyncio.to_thread(files.sweep)
            if removed:
                log.info("removed %d expired files", removed)
        except Exception:
            log.exception("sweeping expired files failed")
        await asyncio.sleep(every_s)
