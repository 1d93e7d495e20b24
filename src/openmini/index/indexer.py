"""One update of an index: what changed on disk since the last one goes into the store.

- A file is read again only when its size or mtime changed; re-chunked and re-embedded only
  when its sha256 changed (otherwise its new size and mtime are recorded).
- A chunk is embedded only when no stored chunk has its key (chunk.Chunk.key: symbol,
  kind, language, text; not the path): editing one function re-embeds that function's
  chunk(s), and a renamed file (removed + added) or moved code keeps its vectors. Files
  that left the tree are removed last, so their vectors can still be reused.
- Files are written in batches (`write_chunks` chunks), each file with its chunks in one
  transaction: a reader sees a file's old chunks or its new ones, and an update that
  stops half-way leaves a consistent store that the next update completes.
- `paths` limits an update to those paths (a watcher's events): each is a file, a
  directory (walked), or gone (its files removed).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmini.code.languages import language_for_path
from openmini.index.chunk import Chunk, ChunkSettings, chunk_file
from openmini.index.embedding import TextEmbedder, embed_texts
from openmini.index.ignore import IgnoreRules
from openmini.index.store import FileRecord, IndexStore
from openmini.index.walk import (
    DEFAULT_MAX_FILE_BYTES,
    WalkedFile,
    decode_text,
    is_dir,
    looks_generated,
    read_file,
    stat_file,
    walk,
)


@dataclass(frozen=True, slots=True)
class IndexSettings:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    embed_tokens: int = 128  # what of a chunk is embedded (embedding.py)
    embed_batch: int = 32  # texts per embedding call (other users of the model go between)
    write_chunks: int = 128  # chunks per write transaction


class Cancelled(Exception):
    """The update was asked to stop (its index is being removed)."""


@dataclass(slots=True)
class UpdateStats:
    files: int = 0  # files the walk kept (in `paths` mode: those touched)
    to_read: int = 0  # of them, new or with another size or mtime
    read: int = 0
    changed: int = 0  # re-chunked: new, or content changed
    added: int = 0
    removed: int = 0
    chunks: int = 0  # chunks written
    embedded: int = 0  # of them, embedded now
    reused: int = 0  # of them, with a stored vector
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "to_read": self.to_read, "read": self.read,
                "changed": self.changed, "added": self.added, "removed": self.removed,
                "chunks": self.chunks, "embedded": self.embedded, "reused": self.reused,
                "skipped": dict(self.skipped), "seconds": round(self.seconds, 3)}


Progress = Callable[[UpdateStats], None]


@dataclass(slots=True)
class _Pending:
    files: list[tuple[FileRecord, list[Chunk]]] = field(default_factory=list)
    chunks: int = 0
    touched: list[FileRecord] = field(default_factory=list)


class Updater:
    """Runs one update of `store` from the tree at `root`."""

    def __init__(self, store: IndexStore, root: Path, embedder: Callable[[], TextEmbedder],
                 settings: IndexSettings, rules: IgnoreRules,
                 progress: Progress | None = None,
                 cancelled: Callable[[], bool] = lambda: False):
        self.store, self.root, self.embedder = store, root, embedder
        self.settings, self.rules = settings, rules
        self.progress = progress or (lambda stats: None)
        self.cancelled = cancelled
        self.stats = UpdateStats()

    def run(self, paths: Iterable[str] | None = None) -> UpdateStats:
        started = time.monotonic()
        known = self.store.files()
        if paths is None:
            seen = {f.path: f for f in walk(self.root, self.rules, self.settings.max_file_bytes,
                                            self.stats.skipped)}
            gone = [p for p in known if p not in seen]
        else:
            seen, gone = self._scan(paths, known)
        todo = [f for f in seen.values() if (old := known.get(f.path)) is None
                or (old.size, old.mtime_ns) != (f.size, f.mtime_ns)]
        self.stats.files, self.stats.to_read = len(seen), len(todo)
        self.progress(self.stats)
        pending = _Pending()
        for walked in todo:
            if self.cancelled():
                raise Cancelled
            self._read(walked, known.get(walked.path), pending, gone)
            if pending.chunks >= self.settings.write_chunks or len(pending.files) >= 256:
                self._flush(pending)
        self._flush(pending)
        if gone:
            self.store.remove_files(gone)
            self.stats.removed = len(gone)
        self.stats.seconds = time.monotonic() - started
        self.progress(self.stats)
        return self.stats

    def _scan(self, paths: Iterable[str], known: dict[str, FileRecord]) -> tuple[
            dict[str, WalkedFile], list[str]]:
        """The files a set of touched paths holds now, and the known ones it lost."""
        seen: dict[str, WalkedFile] = {}
        gone: set[str] = set()
        limit = self.settings.max_file_bytes
        for path in sorted(set(paths)):
            under = [p for p in known if p.startswith(path + "/")]
            if self.rules.ignored(path):
                gone.update(p for p in (path, *under) if p in known)
                continue
            if is_dir(self.root, path):
                found = {f.path: f for f in walk(self.root, self.rules, limit,
                                                  self.stats.skipped, under=path)}
                seen.update(found)
                gone.update(p for p in under if p not in found)
                continue
            gone.update(under)
            entry = stat_file(self.root, path)
            if entry is not None and entry.size <= limit:
                seen[path] = entry
            elif path in known:
                gone.add(path)
        return seen, sorted(gone - set(seen))

    def _read(self, walked: WalkedFile, old: FileRecord | None, pending: _Pending,
              gone: list[str]) -> None:
        got = read_file(self.root, walked.path, self.settings.max_file_bytes)
        if got is None:  # gone, grown past the limit, or no longer a regular file
            if old is not None:
                gone.append(walked.path)
            return
        self.stats.read += 1
        digest = hashlib.sha256(got.data).hexdigest()
        if old is not None and old.sha256 == digest:
            pending.touched.append(FileRecord(walked.path, got.size, got.mtime_ns, digest,
                                              old.language, old.skipped))
            return
        language = language_for_path(walked.path)
        record = FileRecord(walked.path, got.size, got.mtime_ns, digest,
                            language.name if language else None)
        text = decode_text(got.data)
        skipped = "binary" if text is None else "generated" if looks_generated(text) else None
        chunks: list[Chunk] = []
        if skipped is not None:
            self.stats.skipped[skipped] += 1
            record = FileRecord(record.path, record.size, record.mtime_ns, digest, None,
                                skipped)
        elif text is not None:
            chunks = chunk_file(walked.path, text, language, self.settings.chunk)
        self.stats.changed += 1
        self.stats.added += old is None
        pending.files.append((record, chunks))
        pending.chunks += len(chunks)

    def _flush(self, pending: _Pending) -> None:
        if pending.touched:
            self.store.touch_files(pending.touched)
            pending.touched = []
        if not pending.files:
            return
        vectors = self._vectors([c for _, chunks in pending.files for c in chunks])
        self.store.write_files([(record, chunks, [vectors[c.key()] for c in chunks])
                                for record, chunks in pending.files])
        self.stats.chunks += pending.chunks
        pending.files, pending.chunks = [], 0
        self.progress(self.stats)

    def _vectors(self, chunks: list[Chunk]) -> dict[str, bytes]:
        """Every chunk's vector by key: stored ones reused, the others embedded."""
        by_key = {c.key(): c for c in chunks}
        vectors = self.store.vectors_for(list(by_key))
        missing = [c for key, c in by_key.items() if key not in vectors]
        step = self.settings.embed_batch
        for i in range(0, len(missing), step):
            if self.cancelled():
                raise Cancelled
            part = missing[i:i + step]
            rows = embed_texts(self.embedder(), [c.embed_text() for c in part],
                               self.settings.embed_tokens)
            for chunk, row in zip(part, rows, strict=True):
                vectors[chunk.key()] = row.astype("<f4").tobytes()
        self.stats.embedded += len(missing)
        self.stats.reused += len(chunks) - len(missing)
        return vectors
