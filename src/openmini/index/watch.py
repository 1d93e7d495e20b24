"""Following an index's directory: filesystem events (watchfiles: inotify, FSEvents, ...),
debounced, each batch an incremental update of the paths it touched.

watchfiles gathers the events of `debounce_ms` of quiet (at most that long after the
first) into one batch; the batch's paths, relative to the root, go to
`IndexManager.update(paths=...)`, which applies the ignore rules and reads only what
changed. A batch that touches an ignore file (`.gitignore`, `.openminiignore`) runs a full
update instead, as the rules changed for the whole tree. `stop` (a threading.Event) ends
the loop between batches; in a terminal, Ctrl-C does (KeyboardInterrupt is raised to the
caller, which ends cleanly: every update commits file by file).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from openmini.index.ignore import VCS_DIRS, is_ignore_file
from openmini.index.indexer import UpdateStats
from openmini.index.manager import IndexManager

DEBOUNCE_MS = 500


def relative_paths(root: Path, changed: Iterable[tuple[Any, str]]) -> set[str]:
    """The changed paths under `root`, relative with "/", VCS internals left out (git's
    exclude file kept: it is an ignore file)."""
    out: set[str] = set()
    for _, raw in changed:
        try:
            rel = Path(raw).relative_to(root).as_posix()
        except ValueError:
            continue
        parts = rel.split("/")
        if rel in ("", ".") or (VCS_DIRS.intersection(parts) and not is_ignore_file(rel)):
            continue
        out.add(rel)
    return out


def watch(manager: IndexManager, name: str, *, stop: threading.Event | None = None,
          debounce_ms: int = DEBOUNCE_MS,
          on_update: Callable[[set[str] | None, UpdateStats], None] | None = None) -> None:
    """Follow the index's directory until `stop` is set (or Ctrl-C); `on_update` gets
    each batch's paths (None: a full update) and the update's stats."""
    from watchfiles import watch as fs_watch

    root = Path(manager.get(name).path)
    for changes in fs_watch(root, debounce=debounce_ms, step=50, stop_event=stop,
                            watch_filter=None, raise_interrupt=True, rust_timeout=1000,
                            yield_on_timeout=False):
        paths = relative_paths(root, changes)
        if not paths:
            continue
        if any(is_ignore_file(p) for p in paths):
            stats = manager.update(name)
            if on_update is not None:
                on_update(None, stats)
        else:
            stats = manager.update(name, paths=paths)
            if on_update is not None:
                on_update(paths, stats)
