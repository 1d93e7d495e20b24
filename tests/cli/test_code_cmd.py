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


EQ_A = ("def f(items):\n    total = 0\n    for item in items:\n        total += item\n"
        "    return total\n")
EQ_B = "def f(xs):  # renamed\n    acc = 0\n    for x in xs: acc += x\n    return acc\n"


def test_equivalent_files_exit_0(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(EQ_A)
    b.write_text(EQ_B)
    assert run("equivalent", str(a), str(b)) == (0, "equivalent\n", "")
    code, out, _ = run("equivalent", str(a), str(b), "--json")
    assert code == 0 and json.loads(out) == {"equivalent": True, "difference": None}


def test_first_difference_exits_1(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(EQ_A)
    b.write_text(EQ_B.replace("return acc", "return x"))
    code, out, _ = run("equivalent", str(a), str(b))
    assert (code, out) == (1, f"{a}:5:12 <-> {b}:4:12: rename\n")
    code, out, _ = run("equivalent", str(a), str(b), "--json")
    assert code == 1 and json.loads(out)["difference"]["kind"] == "rename"


def test_equivalent_language_from_a_or_the_option(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b.txt"  # no extension: detected from a
    a.write_text("function f(a) {\n  return a + 1;\n}\n")
    b.write_text("function f(b) { return b + 1; }\n")
    assert run("equivalent", str(a), str(b)) == (0, "equivalent\n", "")
    # as Go, `function` does not parse: a syntax difference
    code, out, _ = run("equivalent", str(a), str(b), "--language", "go")
    assert code == 1 and out.endswith(": syntax\n")


def test_equivalent_unreadable_file_or_unknown_language_exits_2(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text(EQ_A)
    code, _, err = run("equivalent", str(a), str(tmp_path / "missing.py"))
    assert code == 2 and "missing.py" in err
    code, _, err = run("equivalent", str(a), str(a), "--language", "klingon")
    assert code == 2 and "klingon" in err
