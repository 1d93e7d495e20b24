"""FileStore (batch/files.py): bytes on disk, records in SQLite, limits, expiry, hostile ids
and filenames, and an upload copied in chunks (never read whole)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from openmini.batch.files import (
    DAY_S,
    TEMP_PREFIX,
    FileRecord,
    FileStore,
    Sink,
    sweep_periodically,
)
from openmini.batch.store import Store
from openmini.errors import InvalidRequest, NotFound, OpenMiniError, PayloadTooLarge

LINE = b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'


def make_store(root: Path, max_bytes: int = 1_000_000, ttl_days: int = 30) -> FileStore:
    return FileStore(Store(root / "openmini.sqlite3"), root, max_bytes, ttl_days)


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return make_store(tmp_path)


def save(files: FileStore, data: bytes = LINE, name: str = "in.jsonl", purpose: str = "batch",
         expires_after_s: int | None = None) -> FileRecord:
    return files.save(io.BytesIO(data), name, purpose, expires_after_s)


def on_disk(files: FileStore) -> list[str]:
    return sorted(p.name for p in files.dir.iterdir())


def test_save_writes_bytes_and_record(files: FileStore) -> None:
    record = save(files)
    api = record.to_api()
    assert set(api) == {"id", "object", "bytes", "created_at", "filename", "purpose",
                        "expires_at", "status", "status_details"}
    assert api["object"] == "file" and api["status"] == "processed"
    assert api["status_details"] is None
    assert record.id.startswith("file-") and record.bytes == len(LINE)
    assert record.sha256 == hashlib.sha256(LINE).hexdigest()
    assert files.get(record.id) == record
    assert files.path(record.id).read_bytes() == LINE
    assert on_disk(files) == [record.id]


def test_expiry_defaults(tmp_path: Path, files: FileStore) -> None:
    batch = save(files)
    assert batch.expires_at == batch.created_at + 30 * DAY_S  # OpenAI: batch files, 30 days
    assert save(files, purpose="user_data").expires_at is None
    chosen = save(files, purpose="user_data", expires_after_s=3600)
    assert chosen.expires_at == chosen.created_at + 3600
    forever = make_store(tmp_path / "other", ttl_days=0)
    assert save(forever).expires_at is None


def test_empty_and_too_large_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    files = make_store(tmp_path, max_bytes=100)
    with pytest.raises(InvalidRequest) as empty:
        save(files, b"")
    assert empty.value.status == 400 and empty.value.param == "file"
    with pytest.raises(PayloadTooLarge) as large:
        save(files, b"x" * 101)
    assert large.value.status == 413 and large.value.param == "file"
    assert "100" in large.value.message
    assert save(files, b"x" * 100).bytes == 100  # the limit itself is allowed
    assert len(on_disk(files)) == 1
    assert files.list()[0][0].bytes == 100


def test_upload_purposes(files: FileStore) -> None:
    for purpose in ("batch_output", "fine-tune", "", "../x"):
        with pytest.raises(InvalidRequest) as refused:
            save(files, purpose=purpose)
        assert refused.value.param == "purpose"
    assert on_disk(files) == []


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\in.jsonl", "in.jsonl"),
    ("  spaced.jsonl ", "spaced.jsonl"), ("données ✓.jsonl", "données ✓.jsonl"),
    ("a" * 255, "a" * 255)])
def test_filenames_are_metadata(files: FileStore, given: str, kept: str) -> None:
    record = save(files, name=given)
    assert record.filename == kept
    assert on_disk(files) == [record.id]  # never a path of its own


@pytest.mark.parametrize("name", ["", "dir/", "..", "a\x00b", "line\nbreak", "del\x7f",
                                  "a" * 256, "\ud800"])
def test_bad_filenames_are_refused(files: FileStore, name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        save(files, name=name)
    assert refused.value.param == "file" and refused.value.code == "invalid_filename"
    assert on_disk(files) == []


@pytest.mark.parametrize("file_id", ["../x", "file-../../etc/passwd", "file-", "file-a/b",
                                     "file-abc\n", "x" * 5000, "/etc/passwd", "file-a.b"])
def test_hostile_ids_are_not_found(files: FileStore, file_id: str) -> None:
    save(files)
    for call in (files.get, files.path, files.delete):
        with pytest.raises(NotFound) as missing:
            call(file_id)
        assert missing.value.status == 404 and missing.value.param == "file_id"
        assert missing.value.code == "not_found" and len(missing.value.message) < 200
    with pytest.raises(ValueError):
        files.create(b"x", "out.jsonl", file_id=file_id)


def test_list_pages_filters_and_orders(files: FileStore) -> None:
    saved = [save(files, purpose="batch" if k % 2 else "user_data") for k in range(7)]
    everything, more = files.list()
    assert not more and {r.id for r in everything} == {r.id for r in saved}
    keys = [(r.created_at, r.id) for r in everything]
    assert keys == sorted(keys, reverse=True)
    pages, after = [], None
    while True:
        page, more = files.list(limit=3, after=after)
        pages += page
        if not more:
            break
        after = page[-1].id
    assert pages == list(everything)
    ascending, _ = files.list(order="asc")
    assert list(ascending) == list(reversed(everything))
    batch, _ = files.list(purpose="batch")
    assert len(batch) == 3 and all(r.purpose == "batch" for r in batch)
    assert files.list(purpose="nothing") == ((), False)
    first, more = files.list(limit=7)
    assert len(first) == 7 and not more


def test_list_arguments_are_checked(files: FileStore) -> None:
    for kwargs, param in [({"limit": 0}, "limit"), ({"limit": 10_001}, "limit"),
                          ({"order": "up"}, "order"), ({"after": "file-nope"}, "after"),
                          ({"after": "../x"}, "after")]:
        with pytest.raises(OpenMiniError) as refused:
            files.list(**kwargs)  # type: ignore[arg-type]
        assert refused.value.param == param


def test_delete_removes_row_and_bytes(files: FileStore) -> None:
    keep, gone = save(files), save(files)
    files.delete(gone.id)
    assert on_disk(files) == [keep.id]
    with pytest.raises(NotFound):
        files.get(gone.id)
    with pytest.raises(NotFound):
        files.delete(gone.id)


def test_sweep_removes_expired_files(files: FileStore) -> None:
    soon = save(files, purpose="user_data", expires_after_s=3600)
    later = save(files, purpose="user_data", expires_after_s=7200)
    never = save(files, purpose="user_data")
    assert files.sweep(now=soon.created_at + 3599) == 0
    assert files.sweep(now=soon.created_at + 3600) == 1  # expires_at <= now
    assert {r.id for r in files.list()[0]} == {later.id, never.id}
    assert files.sweep(now=10**12) == 1
    assert on_disk(files) == [never.id]


async def test_the_periodic_sweep_runs_at_start(files: FileStore) -> None:
    save(files, purpose="user_data", expires_after_s=3600)
    files.store.connection().execute("UPDATE files SET expires_at = 1")
    task = asyncio.create_task(sweep_periodically(files, every_s=3600))
    for _ in range(200):
        if not on_disk(files):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert on_disk(files) == []


def test_create_from_chunks_bytes_or_a_writer(files: FileStore) -> None:
    chunks = files.create(iter([b"a\n", b"b\n"]), "out.jsonl")
    assert files.path(chunks.id).read_bytes() == b"a\nb\n" and chunks.bytes == 4
    assert chunks.purpose == "batch_output"
    assert chunks.expires_at == chunks.created_at + 30 * DAY_S
    whole = files.create(b"xyz", "out.jsonl")
    assert files.path(whole.id).read_bytes() == b"xyz"

    def writer(sink: Sink) -> None:
        for k in range(3):
            sink.write(f"{k}\n".encode())

    written = files.create(writer, "errors.jsonl")
    assert files.path(written.id).read_bytes() == b"0\n1\n2\n"
    assert written.sha256 == hashlib.sha256(b"0\n1\n2\n").hexdigest()
    assert files.create(b"", "empty.jsonl").bytes == 0  # the server's own files may be empty
    with pytest.raises(ValueError):
        files.create(b"x", "out.jsonl", purpose="nonsense")


def test_create_with_an_id_overwrites(files: FileStore) -> None:
    first = files.create(b"first\n", "out.jsonl", file_id="file-batch_1_output")
    again = files.create(b"second run\n", "out.jsonl", file_id="file-batch_1_output")
    assert first.id == again.id == "file-batch_1_output"
    assert files.get(first.id) == again
    assert files.path(first.id).read_bytes() == b"second run\n"
    assert len(files.list()[0]) == 1 and on_disk(files) == [first.id]


def test_a_failing_writer_leaves_nothing(files: FileStore) -> None:
    def broken(sink: Sink) -> None:
        sink.write(b"partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        files.create(broken, "out.jsonl", file_id="file-x")
    assert on_disk(files) == []
    with pytest.raises(NotFound):
        files.get("file-x")


def test_orphans_are_removed_at_start(tmp_path: Path) -> None:
    files = make_store(tmp_path)
    kept = save(files)
    (files.dir / f"{TEMP_PREFIX}abc").write_bytes(b"half an upload")
    (files.dir / "file-norow").write_bytes(b"renamed, but the row was never written")
    (files.dir / "notes.txt").write_bytes(b"not ours")
    files.store.close()
    reopened = make_store(tmp_path)
    assert on_disk(reopened) == sorted([kept.id, "notes.txt"])
    assert reopened.get(kept.id) == kept


def test_a_large_upload_is_copied_in_chunks(tmp_path: Path) -> None:
    files = make_store(tmp_path, max_bytes=64 * 1024 * 1024)
    source = tmp_path / "big.jsonl"
    with source.open("wb") as fh:
        for _ in range(30):
            fh.write(os.urandom(1024 * 1024))
    with source.open("rb") as fh:
        tracemalloc.start()
        try:
            record = files.save(fh, "big.jsonl", "batch")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert record.bytes == 30 * 1024 * 1024
    assert peak < 4 * 1024 * 1024, peak  # a chunk or two, never the file
    assert record.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
