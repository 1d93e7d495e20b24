"""Watching (index/watch.py): filesystem events become incremental updates of the touched
paths (ignored paths and VCS internals left out), an ignore file's change a full update, and
the stop event ends the loop."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openmini.index.indexer import UpdateStats
from openmini.index.manager import IndexManager
from openmini.index.watch import relative_paths, watch

pytestmark = pytest.mark.model  # the real embedding model

Tree = Callable[[dict[str, str | bytes]], Path]


def test_relative_paths(tmp_path: Path) -> None:
    changes = {(1, str(tmp_path / "a.py")), (2, str(tmp_path / ".git" / "index")),
               (1, str(tmp_path / ".git" / "info" / "exclude")), (3, "/elsewhere/x.py"),
               (1, str(tmp_path)), (1, str(tmp_path / "sub" / "b.go"))}
    assert relative_paths(tmp_path, changes) == {"a.py", ".git/info/exclude", "sub/b.go"}


def test_watch_updates_touched_paths_until_stopped(manager: IndexManager, tree: Tree) -> None:
    root = tree({"a.py": "def first():\n    return 1\n"})
    manager.add(root, "w")
    batches: queue.Queue[tuple[set[str] | None, UpdateStats]] = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(target=lambda: watch(
        manager, "w", stop=stop, debounce_ms=100,
        on_update=lambda paths, stats: batches.put((paths, stats))))
    worker.start()
    try:
        time.sleep(0.5)  # the watcher is set up
        (root / "b.py").write_text("def second():\n    return 2\n")
        (root / "node_modules").mkdir()
        (root / "node_modules" / "x.js").write_text("x\n")
        paths, stats = batches.get(timeout=20)
        while "b.py" not in (paths or set()):
            paths, stats = batches.get(timeout=20)
        assert stats.added == 1 and stats.embedded == 1
        assert manager.search("w", "second", 1, mode="bm25")[0].path == "b.py"
        (root / ".gitignore").write_text("b.py\n")
        paths, stats = batches.get(timeout=20)
        assert paths is None and stats.removed == 1  # the rules changed: a full update
        found = manager.search("w", "first second", 10, mode="bm25")
        assert [h.path for h in found] == ["a.py"]
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert manager.get("w").files == 2  # a.py, .gitignore: node_modules/x.js never indexed
