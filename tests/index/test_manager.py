"""IndexManager (index/manager.py): names and paths checked, 409 for a taken name, list and
status, two managers on one data directory (a CLI and a server) seeing each other's
indexes and updates, an interrupted index reported failed, removal (also during an update)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from index.counting import Counting
from openmini.errors import Conflict, InvalidRequest, NotFound
from openmini.index.indexer import Cancelled, IndexSettings, UpdateStats
from openmini.index.manager import INTERRUPTED, IndexManager, default_name

pytestmark = pytest.mark.model  # the real embedding model

Tree = Callable[[dict[str, str | bytes]], Path]


@pytest.mark.parametrize("name", ["", ".hidden", "..", "a/b", "a b", "x" * 65, "naïve",
                                  "-lead"])
def test_bad_names_are_400s(manager: IndexManager, tree: Tree, name: str) -> None:
    root = tree({"a.py": "x = 1\n"})
    with pytest.raises(InvalidRequest) as caught:
        manager.create(root, name)
    assert caught.value.param == "name"


def test_bad_paths_are_400s(manager: IndexManager, tree: Tree) -> None:
    root = tree({"a.py": "x = 1\n"})
    for path in (root / "missing", root / "a.py", ""):
        with pytest.raises(InvalidRequest) as caught:
            manager.create(path, "x")
        assert caught.value.param == "path"


def test_default_name_and_a_taken_name(manager: IndexManager, tree: Tree) -> None:
    root = tree({"a.py": "def f():\n    return 1\n"})
    info = manager.add(root)
    assert info.name == "repo" and info.path == str(root.resolve())
    with pytest.raises(Conflict) as caught:
        manager.create(root)
    assert caught.value.status == 409
    assert default_name(Path("/x/My Project (2)")) == "My-Project--2-"
    assert default_name(Path("/x/.config")) == "config"


def test_list_status_and_the_index_object(manager: IndexManager, tree: Tree) -> None:
    assert manager.list() == []
    root = tree({"a.py": "def f():\n    return 1\n", "b.py": "def g():\n    return 2\n"})
    manager.add(root, "one")
    body = manager.get("one").to_dict()
    assert {k: body[k] for k in ("name", "path", "status", "files", "chunks")} == {
        "name": "one", "path": str(root.resolve()), "status": "ready", "files": 2,
        "chunks": 2}
    assert [i.name for i in manager.list()] == ["one"]
    with pytest.raises(NotFound):
        manager.get("two")


def test_two_managers_share_a_data_directory(manager: IndexManager, tree: Tree,
                                             embedder: Counting) -> None:
    root = tree({"a.py": "def parse_date():\n    return 1\n"})
    manager.add(root, "shared")
    other = IndexManager(manager.directory, embedder)
    try:
        assert other.search("shared", "parse date", 1)[0].symbol == "parse_date"
        (root / "b.py").write_text("def format_date():\n    return 2\n")
        other.update("shared")
        assert manager.search("shared", "format date", 1, mode="bm25")[0].path == "b.py"
        assert manager.get("shared").files == 2
        other.remove("shared")
        with pytest.raises(NotFound):
            manager.get("shared")
    finally:
        other.close()


def test_an_index_left_indexing_by_a_dead_process_is_failed(
        manager: IndexManager, tree: Tree, embedder: Counting) -> None:
    root = tree({"a.py": "def f():\n    return 1\n"})
    assert manager.create(root, "half").status == "indexing"  # its update is due here
    other = IndexManager(manager.directory, embedder)  # another process, later
    try:
        info = other.get("half")
        assert (info.status, info.error) == ("failed", INTERRUPTED)
        assert other.interrupted() == ["half"]
        other.update("half")
        assert other.get("half").status == "ready" and other.interrupted() == []
    finally:
        other.close()


def test_a_scheduled_update_shows_as_indexing_until_it_has_run(
        manager: IndexManager, tree: Tree) -> None:
    manager.add(tree({"a.py": "def f():\n    return 1\n"}), "due")
    manager.schedule("due")
    info = manager.get("due")
    assert (info.status, info.error) == ("indexing", None)
    manager.update("due")
    assert manager.get("due").status == "ready"
    with pytest.raises(NotFound):
        manager.schedule("nothing")


def test_an_update_in_another_manager_shows_as_indexing(manager: IndexManager, tree: Tree,
                                                        embedder: Counting) -> None:
    root = tree({"a.py": "def f():\n    return 1\n"})
    manager.add(root, "busy")
    (root / "b.py").write_text("def g():\n    return 2\n")
    inside, release = threading.Event(), threading.Event()

    def progress(stats: UpdateStats) -> None:
        inside.set()
        release.wait(30)

    worker = threading.Thread(target=lambda: manager.update("busy", progress=progress))
    worker.start()
    assert inside.wait(30)
    other = IndexManager(manager.directory, embedder)
    try:
        assert other.get("busy").status == "indexing"  # the lock is held: not "interrupted"
    finally:
        release.set()
        worker.join(30)
        other.close()
    assert manager.get("busy").status == "ready"


def test_remove_stops_a_running_update(tmp_path: Path, tree: Tree,
                                       embedder: Counting) -> None:
    manager = IndexManager(tmp_path / "idx", embedder, settings=IndexSettings(write_chunks=1))
    root = tree({f"m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(6)})
    manager.create(root, "doomed")
    inside, release = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def progress(stats: UpdateStats) -> None:
        if stats.chunks:
            inside.set()
            release.wait(30)

    def run() -> None:
        try:
            manager.update("doomed", progress=progress)
        except BaseException as exc:  # reported by the test
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert inside.wait(30)
    remover = threading.Thread(target=lambda: manager.remove("doomed"))
    remover.start()
    release.set()
    remover.join(30)
    worker.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert manager.names() == [] and not (tmp_path / "idx" / "doomed.db").exists()
    with pytest.raises(NotFound):
        manager.get("doomed")
    manager.close()
