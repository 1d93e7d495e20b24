"""`openmini complete FILE --line N [--column C]`, as a user runs it: the split at the cursor,
exit 2 on a bad file or cursor, a server's answer (--base-url, a real server on a scripted
backend), and a model in this process (the real `fast`; `tiny` has no FIM tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmini.backends.base import Capabilities
from openmini.cli.complete_cmd import split_at
from openmini.cli.main import app
from openmini.code.parse import parse
from openmini.config import ServerConfig
from server.fake_backend import FakeBackend
from server.routes.serving import serving

ADD = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["complete", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def add_py(tmp_path: Path) -> Path:
    path = tmp_path / "add.py"
    path.write_text(ADD)
    return path


def test_split_at_a_line_start_a_column_and_the_end() -> None:
    assert split_at(ADD, 3) == ("def add(a, b):\n    return \n", "\nprint(add(1, 2))\n")
    assert split_at(ADD, 2, 12) == ("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")
    assert split_at(ADD, 5) == (ADD, "")  # past the last line break
    assert split_at("", 1) == ("", "")
    for line, column in ((0, 1), (6, 1), (2, 13), (2, 0)):
        with pytest.raises(ValueError, match=r"--line|--column"):
            split_at(ADD, line, column)
    with pytest.raises(ValueError):
        split_at("no newline", 2)


def test_a_bad_file_or_cursor_exits_2(add_py: Path, tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "missing.py"), "--line", "1")
    assert code == 2 and out == "" and "cannot read" in err
    code, out, err = run(str(add_py), "--line", "9")
    assert code == 2 and out == "" and "--line must be between 1 and 5" in err
    code, _, err = run(str(add_py), "--line", "2", "--column", "40")
    assert code == 2 and "--column" in err
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    assert run(str(binary), "--line", "1")[0] == 2


def test_a_server_fills_in_the_middle(add_py: Path) -> None:
    backend = FakeBackend(pieces=("a", " + b"), capabilities=Capabilities(max_n=4, fim=True))
    with serving(ServerConfig(), backend) as url:
        code, out, _ = run(str(add_py), "--line", "2", "--column", "12", "--base-url",
                           f"{url}/v1")
        assert (code, out) == (0, "a + b")  # exactly the middle
        code, out, _ = run(str(add_py), "-l", "2", "-c", "12", "--base-url", f"{url}/v1",
                           "--json", "--max-tokens", "9")
    assert code == 0
    assert json.loads(out) == {"text": "a + b", "finish_reason": "stop", "usage": {
        "prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}
    sent = backend.requests[-1]
    assert (sent.prompt, sent.suffix) == ("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")
    assert sent.sampling.max_tokens == 9 and sent.sampling.temperature == 0.0


def test_a_server_model_without_fim_tokens_exits_1(add_py: Path) -> None:
    with serving(ServerConfig()) as url:
        code, out, err = run(str(add_py), "--line", "2", "--base-url", f"{url}/v1")
    assert code == 1 and out == "" and "'suffix'" in err and "400" in err


@pytest.mark.model
def test_the_real_model_in_this_process(add_py: Path) -> None:
    code, out, err = run(str(add_py), "--line", "2", "--column", "12", "--model", "fast",
                         "--max-tokens", "24", "--threads", "2", "--ctx-size", "512", "--json")
    assert code == 0, err
    result = json.loads(out)
    middle = result["text"]
    assert middle.strip() and "print(add(1, 2))" not in middle
    assert result["finish_reason"] == "stop" and result["usage"]["completion_tokens"] > 0
    assert parse(ADD.replace("return ", "return " + middle, 1), "python").ok


@pytest.mark.model
def test_a_model_without_fim_tokens_in_this_process_exits_1(add_py: Path) -> None:
    code, out, err = run(str(add_py), "--line", "2", "--model", "tiny", "--threads", "2",
                         "--ctx-size", "256")
    assert code == 1 and out == "" and "'suffix'" in err


# --- --index: code from a codebase index in the prompt -----------------------------------

@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data directory holding the index `calc` of a repository, the repository)."""
    from index.build import add_index

    base = tmp_path_factory.mktemp("complete-index")
    repo = base / "calc"
    (repo / "lib").mkdir(parents=True)
    (repo / "lib" / "mathx.py").write_text(
        'def add_numbers(a, b):\n    """The sum of two numbers."""\n    return a + b\n')
    (repo / "main.py").write_text("from lib import mathx\n\nprint(mathx.)\n")
    add_index(base / "data", repo, "calc")
    return base / "data", repo


@pytest.mark.model
def test_index_through_a_server_names_the_file_and_lists_the_context(
        indexed: tuple[Path, Path]) -> None:
    from openmini.engine.embed import Embedder, EmbedSettings
    from openmini.models import resolve_model

    data, repo = indexed
    backend = FakeBackend(pieces=("add_numbers",), capabilities=Capabilities(max_n=4, fim=True))
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    with serving(ServerConfig(data_dir=str(data)), backend,
                 embedders={"all-minilm-l6-v2": embedder}) as url:
        code, out, err = run(str(repo / "main.py"), "--line", "3", "--column", "13",
                             "--base-url", f"{url}/v1", "--index", "calc", "--k", "2", "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["text"] == "add_numbers"
        assert [c["path"] for c in result["context"]] == ["lib/mathx.py"]
        sent = backend.requests[-1]
        assert sent.codebase is not None and sent.codebase.path == "main.py"
        assert (sent.codebase.index, sent.codebase.k) == ("calc", 2)
        assert "def add_numbers" in (sent.prompt or "")  # as comments before the prompt
        code, _, err = run(str(repo / "main.py"), "--line", "3", "--base-url", f"{url}/v1",
                           "--index", "missing")
        assert code == 1 and "404" in err and "missing" in err


def test_data_dir_is_not_for_a_server(add_py: Path, tmp_path: Path) -> None:
    code, out, err = run(str(add_py), "--line", "2", "--base-url", "http://127.0.0.1:9/v1",
                         "--index", "x", "--data-dir", str(tmp_path))
    assert code == 2 and out == "" and "--data-dir" in err
