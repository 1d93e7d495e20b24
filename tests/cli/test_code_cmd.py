"""`openmini code outline` and `openmini code check`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openmini.cli.main import app

GOOD = "class A:\n    def m(self):\n        pass\n\n\ndef f():\n    return 1\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["code", *args])
    return result.exit_code, result.stdout, result.stderr


def test_outline_indents_by_nesting(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(GOOD)
    code, out, _ = run("outline", str(path))
    assert code == 0
    assert out.splitlines() == ["    1  class A", "    2    method m", "    6  function f"]


def test_outline_json_detects_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "snippet"
    path.write_text('fn main() {\n    let mut v = Vec::new();\n    println!("{:?}", v);\n}\n')
    code, out, _ = run("outline", str(path), "--json")
    assert code == 0
    body = json.loads(out)
    assert body["language"] == "rust" and body["symbols"][0]["name"] == "main"


def test_check_clean_and_broken_files(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.c"
    good.write_text(GOOD)
    bad.write_text("int f(void) {\n  return 1\n}\n")
    assert run("check", str(good)) == (0, "", "")
    code, out, _ = run("check", str(good), str(bad))
    assert code == 1
    assert out == f"{bad}:2:11: missing `;`\n"


def test_check_language_option_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("let x = (1;\n")
    code, out, _ = run("check", str(path), "--language", "js")
    assert code == 1 and out.endswith(":1:11: missing `)`\n")


def test_unreadable_file_or_unknown_language_exits_2(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path / "missing.py"))
    assert code == 2 and "missing.py" in err
    binary = tmp_path / "b.py"
    binary.write_bytes(b"\xff\xfe\x00")
    assert run("check", str(binary))[0] == 2
    path = tmp_path / "a.py"
    path.write_text(GOOD)
    code, _, err = run("outline", str(path), "--language", "klingon")
    assert code == 2 and "klingon" in err
