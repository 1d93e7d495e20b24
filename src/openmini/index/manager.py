"""IndexManager: the codebase indexes of one data directory, for the CLI and the server.

Every method is blocking and thread-safe: the server calls them from worker threads, never
on its event loop. `create` is quick (it records the index, status "indexing"); `update`
does the work (minutes for a large tree the first time); `add` is both. Searches run
while an index is updated (SQLite WAL) and see what its last committed batch wrote.

One update at a time per index: in this process a lock, across processes (a CLI and a
server sharing the data directory) an exclusive `flock` on `<name>.lock` beside the
database; a second update waits for the first. `remove` stops this process's running
update of the index at its next file and deletes the database. An index left "indexing"
by a process that died is reported "failed" (error "interrupted"); `update` resumes it.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from openmini.config import ServerConfig
from openmini.errors import Conflict, InvalidRequest, NotFound
from openmini.index.embedding import TextEmbedder, embed_texts
from openmini.index.filters import Filters
from openmini.index.ignore import IgnoreRules
from openmini.index.indexer import Cancelled, IndexSettings, Progress, Updater, UpdateStats
from openmini.index.search import Hit, check, search
from openmini.index.store import IndexInfo, IndexStore, db_path
from openmini.index.vectors import VectorCache

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
INTERRUPTED = "interrupted: the process indexing it stopped; run `openmini index update`"


def default_name(root: Path) -> str:
    """An index name from a directory's name: characters outside [A-Za-z0-9._-] become
    `-`, at most 64 of them."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", root.name).lstrip("._-")[:64]
    return name or "index"


def check_name(name: Any, param: str = "name") -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise InvalidRequest(f"Invalid index name {name!r}: use letters, digits, '.', '_' "
                             "and '-' (at most 64, starting with a letter or digit).",
                             param=param)
    return name


def check_root(path: Any, param: str = "path") -> Path:
    """An existing directory, absolute and resolved; else a 400 naming `param`."""
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise InvalidRequest(f"'{param}' must be a directory path.", param=param)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise InvalidRequest(f"{str(path)!r} is not an existing directory.", param=param)
    return root.resolve()


class IndexManager:
    """The indexes under `directory` (`<data dir>/indexes`). `embedder`: the embedding
    model to use (not closed here); or `open_embedder`, called on first need (the model is
    then owned and closed by `close`). `model`: the name recorded with each index."""

    def __init__(self, directory: Path, embedder: TextEmbedder | None = None, *,
                 open_embedder: Callable[[], TextEmbedder] | None = None,
                 settings: IndexSettings | None = None, model: str = "all-minilm-l6-v2"):
        self.directory = directory
        self.settings = settings or IndexSettings()
        self.model = model
        self._embedder, self._open_embedder = embedder, open_embedder
        self._owned: TextEmbedder | None = None
        self._stores: dict[str, IndexStore] = {}
        self._update_locks: dict[str, threading.Lock] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._active: dict[str, int] = {}  # updates running or waiting, per index
        self._due: set[str] = set()  # created, first update not begun
        self._vectors = VectorCache()
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # stop_updates: every update stops

    @classmethod
    def for_config(cls, config: ServerConfig, embedder: TextEmbedder | None = None,
                   threads: int = 0, directory: Path | None = None) -> IndexManager:
        """The indexes of a configuration's data directory (`<data dir>/indexes`, or
        `directory`), with its file size limit; `embedder` (the server's), or the
        catalogue's embedding model opened on first need on `threads` threads (0: every
        CPU)."""
        from openmini.index.embedding import open_default_embedder

        cache_dir = config.model_cache_path()
        return cls(directory or config.data_path() / "indexes", embedder,
                   open_embedder=lambda: open_default_embedder(cache_dir, threads),
                   settings=IndexSettings(max_file_bytes=config.index_max_file_bytes))

    # --- the embedding model ------------------------------------------------------------

    def embedder(self) -> TextEmbedder:
        with self._lock:
            if self._embedder is None:
                if self._open_embedder is None:
                    raise RuntimeError("this IndexManager has no embedding model")
                self._embedder = self._owned = self._open_embedder()
            return self._embedder

    # --- stores -------------------------------------------------------------------------

    def _store(self, name: str, param: str = "name") -> IndexStore:
        """The index's open store. Its file is looked at each time: removed by another
        process, the index is gone here too (or is the new one made under its name)."""
        check_name(name, param)
        path = db_path(self.directory, name)
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            inode = None
        with self._lock:
            store = self._stores.get(name)
            if store is not None and store.inode != inode:
                del self._stores[name]
                store.close()
                self._vectors.drop(name)
                store = None
            if store is None:
                if inode is None:
                    raise NotFound(f"No index named {name!r}.", param=param,
                                   code="index_not_found")
                store = self._stores[name] = IndexStore(path)
            return store

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.db")
                      if NAME.fullmatch(p.stem))

    # --- the API ------------------------------------------------------------------------

    def create(self, path: str | os.PathLike[str], name: str | None = None) -> IndexInfo:
        """Record a new index of the directory `path` (status "indexing"); `update` fills
        it. 400: a bad name or path; 409: the name is taken."""
        root = check_root(path)
        name = check_name(name if name is not None else default_name(root))
        self.directory.mkdir(parents=True, exist_ok=True)
        target = db_path(self.directory, name)
        with self._lock:
            if target.exists():
                raise Conflict(f"An index named {name!r} exists already.", param="name",
                               code="index_exists")
            store = self._stores[name] = IndexStore(target)
            self._due.add(name)  # "indexing" until its first update ends
        try:
            store.init(name, str(root), self.model, self.embedder().dimensions)
        except sqlite3.IntegrityError:  # another process made it this very moment
            with self._lock:
                self._due.discard(name)
            raise Conflict(f"An index named {name!r} exists already.", param="name",
                           code="index_exists") from None
        return self.get(name)

    def add(self, path: str | os.PathLike[str], name: str | None = None,
            progress: Progress | None = None) -> IndexInfo:
        """`create` then `update`: the index, ready (or failed)."""
        info = self.create(path, name)
        self.update(info.name, progress=progress)
        return self.get(info.name)

    def update(self, name: str, *, paths: Iterable[str] | None = None,
               progress: Progress | None = None) -> UpdateStats:
        """Bring the index up to date with its directory (only `paths`, relative to its
        root, when given). Status "indexing" meanwhile, then "ready"; on an error
        "failed" with the error, which is raised again."""
        store = self._store(name)
        with self._lock:
            self._active[name] = self._active.get(name, 0) + 1
            self._due.discard(name)
        try:
            with self._exclusive(name):
                return self._run(name, store, paths, progress)
        finally:
            with self._lock:
                self._active[name] -= 1

    def _run(self, name: str, store: IndexStore, paths: Iterable[str] | None,
             progress: Progress | None) -> UpdateStats:
        info = store.info()
        assert info is not None
        root = Path(info.path)
        cancel = self._cancel.setdefault(name, threading.Event())
        store.set_status("indexing")
        try:
            if not root.is_dir():
                raise InvalidRequest(f"The index's directory {info.path} is gone.",
                                     param="name")
            updater = Updater(store, root, self.embedder, self.settings, IgnoreRules(root),
                              progress, lambda: cancel.is_set() or self._stopping.is_set())
            stats = updater.run(paths)
        except Cancelled:
            raise
        except BaseException as exc:
            message = str(exc) or type(exc).__name__
            if not isinstance(exc, Exception):
                message = INTERRUPTED
            with contextlib.suppress(Exception):
                store.set_status("failed", message)
            raise
        store.set_status("ready")
        return stats

    @contextlib.contextmanager
    def _exclusive(self, name: str) -> Iterator[None]:
        with self._lock:
            lock = self._update_locks.setdefault(name, threading.Lock())
        with lock, open(db_path(self.directory, name).with_suffix(".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _busy(self, name: str) -> bool:
        """Whether an update of the index runs (or is due) here or in another process."""
        if self._active.get(name, 0) > 0 or name in self._due:
            return True
        try:
            with open(db_path(self.directory, name).with_suffix(".lock"), "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return False
        except BlockingIOError:
            return True
        except OSError:
            return False

    def schedule(self, name: str) -> None:
        """Mark an update of the index as due (reported "indexing" until it has run): a
        caller about to run `update` in another thread. 404 for an unknown index."""
        self._store(name)
        with self._lock:
            self._due.add(name)

    def get(self, name: str) -> IndexInfo:
        """The index object (404 when there is none)."""
        info = self._store(name).info()
        if info is None:  # created by another process this very moment
            raise NotFound(f"No index named {name!r}.", param="name", code="index_not_found")
        with self._lock:
            pending = self._active.get(name, 0) > 0 or name in self._due
        if pending and info.status != "indexing":  # due here, not begun yet
            info = replace(info, status="indexing", error=None)
        elif info.status == "indexing" and not self._busy(name):
            info = replace(info, status="failed", error=INTERRUPTED)
        return info

    def interrupted(self) -> builtins.list[str]:
        """The indexes whose update stopped with the process running it (to resume)."""
        return [info.name for info in self.list()
                if info.status == "failed" and info.error == INTERRUPTED]

    def list(self) -> list[IndexInfo]:
        out = []
        for name in self.names():
            with contextlib.suppress(NotFound):
                out.append(self.get(name))
        return out

    def remove(self, name: str) -> None:
        """Delete the index (404 when there is none); an update of it running in this
        process stops first."""
        store = self._store(name)
        cancel = self._cancel.setdefault(name, threading.Event())
        cancel.set()
        try:
            with self._exclusive(name):
                with self._lock:
                    self._stores.pop(name, None)
                store.close()
                self._vectors.drop(name)
                base = db_path(self.directory, name)
                for suffix in ("", "-wal", "-shm"):  # the .lock file stays: another
                    with contextlib.suppress(FileNotFoundError):  # process may wait on it
                        os.unlink(f"{base}{suffix}")
        finally:
            cancel.clear()

    def search(self, name: str, query: str, k: int = 10, *, mode: str = "hybrid",
               path: str | None = None, language: str | None = None,
               kind: str | None = None) -> builtins.list[Hit]:
        """The `k` best chunks of the index for `query` (search.py); 400 naming the
        parameter for a bad one, 404 for an unknown index."""
        check(query, k, mode)
        filters = Filters.of(path, language, kind)
        store = self._store(name, param="index")
        info = store.info()
        dimensions = info.dimensions if info else 384
        return search(store, query, k, mode, filters,
                      lambda: self._vectors.get(name, store, dimensions), self._embed_query)

    def _embed_query(self, query: str) -> np.ndarray:
        vectors = embed_texts(self.embedder(), [query], self.settings.embed_tokens)
        return np.asarray(vectors[0], dtype=np.float32)

    def stop_updates(self) -> None:
        """Stop every update of this manager at its next file, and any begun later (a
        server shutting down): each raises Cancelled and its index is left as it is, to be
        resumed by the next `update` (until then reported "failed": interrupted)."""
        self._stopping.set()

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
            owned, self._owned = self._owned, None
            if owned is not None:
                self._embedder = None
        for store in stores:
            store.close()
        if owned is not None:
            close = getattr(owned, "close", None)
            if close is not None:
                close()
