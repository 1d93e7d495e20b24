"""`openmini index ...` and `openmini search` end to end on a tiny repository, with the real
embedding model: add, list, status, search (JSON and text), update, remove, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmini.cli.index_cmd import snippet
from openmini.cli.main import app

pytestmark = pytest.mark.model


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMINI_THREADS", "1")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "http").mkdir(parents=True)
    (root / "http" / "dates.py").write_text(
        'def parseHttpDate(value):\n    """An HTTP date as a timestamp."""\n    return 0\n')
    (root / "app.js").write_text("function renderPage(user) {\n  return user.name;\n}\n")
    return root


def test_index_commands_end_to_end(repo: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, _, err = run("index", "add", str(repo), "--data-dir", data)
    assert code == 0, err
    assert "added demo" in err and "2 files" in err and "2 chunks written" in err

    code, out, _ = run("index", "list", "--data-dir", data)
    assert code == 0 and out.split()[:2] == ["demo", "ready"]
    code, out, _ = run("index", "list", "--json", "--data-dir", data)
    listed = json.loads(out)
    assert listed["object"] == "list" and listed["data"][0]["chunks"] == 2

    code, out, _ = run("index", "status", "demo", "--json", "--data-dir", data)
    status = json.loads(out)
    assert code == 0 and (status["status"], status["files"], status["path"]) == (
        "ready", 2, str(repo.resolve()))

    code, out, _ = run("search", "parse http date", "--index", "demo", "--json", "-k", "1",
                       "--data-dir", data)
    assert code == 0
    (hit,) = json.loads(out)["data"]
    assert (hit["path"], hit["start_line"], hit["end_line"], hit["symbol"], hit["kind"]) == (
        "http/dates.py", 1, 3, "parseHttpDate", "function")

    code, out, _ = run("search", "render the page", "--language", "js", "--data-dir", data)
    assert code == 0 and out.startswith("app.js:1  renderPage  function")
    assert "function renderPage(user)" in out

    code, out, err = run("search", "date", "--path", "nowhere/*", "--data-dir", data)
    assert (code, out, err.strip()) == (0, "", "no results")

    (repo / "more.py").write_text("def formatHttpDate(ts):\n    return ''\n")
    code, _, err = run("index", "update", "demo", "--data-dir", data)
    assert code == 0 and "1 changed" in err and "1 embedded" in err

    code, _, err = run("index", "remove", "demo", "--data-dir", data)
    assert code == 0 and "removed demo" in err
    code, out, err = run("index", "list", "--data-dir", data)
    assert code == 0 and out == "" and "no indexes" in err


def test_bad_input_exits_2(repo: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("index", "add", str(repo / "missing"), "--data-dir", data)[0] == 2
    assert run("index", "add", str(repo), "--name", "a/b", "--data-dir", data)[0] == 2
    assert run("index", "status", "nope", "--data-dir", data)[0] == 2
    assert run("index", "remove", "nope", "--data-dir", data)[0] == 2
    assert run("index", "update", "nope", "--data-dir", data)[0] == 2
    assert run("search", "x", "--data-dir", data)[0] == 2  # no index at all
    assert run("index", "add", str(repo), "--data-dir", data)[0] == 0
    code, _, err = run("index", "add", str(repo), "--data-dir", data)
    assert code == 2 and "exists already" in err
    assert run("search", "x", "--index", "nope", "--data-dir", data)[0] == 2
    assert run("search", "x", "--kind", "lambda", "--data-dir", data)[0] == 2
    assert run("search", "x", "-k", "0", "--data-dir", data)[0] == 2


def test_snippet_picks_the_lines_with_the_query() -> None:
    text = "\n".join(f"line {i}" for i in range(20)) + "\nparse the date here\nend"
    shown = snippet(text, ["date"], lines=3)
    assert shown.split("\n    ")[0] == "line 19" and "parse the date here" in shown
    assert snippet("a\nb", ["x"]) == "a\n    b"


def test_kill_9_mid_index_then_update_completes_it(tmp_path: Path) -> None:
    """`openmini index add` killed with SIGKILL half-way: the index reads "failed:
    interrupted" with what it committed searchable; `index update` completes it, each file
    once, as a fresh index of the same tree has it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from openmini.errors import NotFound
    from openmini.index.manager import INTERRUPTED, IndexManager

    root = tmp_path / "big"
    root.mkdir()
    for i in range(400):
        (root / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-m", "openmini.cli.main", "index", "add", str(root), "--name",
         "big", "--data-dir", str(data)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "OPENMINI_THREADS": "1"})
    manager = IndexManager(data / "indexes")  # no embedding model: never searches vectors

    def files() -> int:
        try:
            return manager.get("big").files
        except NotFound:  # not made yet, or made this very moment
            return 0

    try:
        deadline = time.monotonic() + 120
        while files() < 50:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        info = manager.get("big")
        assert (info.status, info.error) == ("failed", INTERRUPTED) and 50 <= info.files < 400
        hits = manager.search("big", "f1", 100, mode="bm25")
        assert hits  # what was committed is searchable
    finally:
        if child.poll() is None:
            child.kill()
        manager.close()
    code, _, err = run("index", "update", "big", "--data-dir", str(data))
    assert code == 0, err
    code, out, _ = run("index", "status", "big", "--json", "--data-dir", str(data))
    status = json.loads(out)
    assert (status["status"], status["files"], status["chunks"], status["error"]) == (
        "ready", 400, 400, None)
