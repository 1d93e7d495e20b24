"""Diagnostics (1-based positions), the limits on input, and language detection."""

from __future__ import annotations

import pytest

from openmini.code import parse as parse_mod
from openmini.code.parse import MAX_DIAGNOSTICS, candidates_for, detect, parse
from openmini.errors import InvalidRequest


def test_missing_semicolon_in_c() -> None:
    assert parse("int f(void) {\n  return 1\n}\n", "c").diagnostics == [
        {"line": 2, "column": 11, "node": ";", "message": "missing `;`"}]


def test_missing_paren_in_javascript() -> None:
    assert parse("let x = (1;\n", "js").diagnostics == [
        {"line": 1, "column": 11, "node": ")", "message": "missing `)`"}]


def test_unexpected_token_in_python() -> None:
    [d] = parse("x = 1\ny = [1, 2,, 3]\n", "python").diagnostics
    assert (d["line"], d["column"], d["node"]) == (2, 11, "ERROR")
    assert d["message"] == "syntax error: unexpected `,`"


def test_columns_count_characters_not_bytes() -> None:
    [d] = parse('s = "ééé"; f(1 2)\n', "python").diagnostics
    assert d["column"] == 16  # the byte column would be 19


def test_valid_code_has_no_diagnostics() -> None:
    parsed = parse("def f():\n    return 1\n", "python")
    assert parsed.ok and parsed.diagnostics == []


def test_diagnostics_are_capped() -> None:
    code = "".join(f"int f{i}(void) {{ return {i} }}\n" for i in range(200))
    assert len(parse(code, "c").diagnostics) == MAX_DIAGNOSTICS


@pytest.mark.parametrize(("code", "reason"), [
    ("a = 1\x00", "NUL"), ("\ud800", "not valid text"),
])
def test_not_text_is_a_400_naming_the_field(code: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse(code, "python")
    assert err.value.param == "code" and reason in err.value.message


def test_oversized_input_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse("x" * (parse_mod.MAX_CODE_BYTES + 1), "python", param="messages[0].content")
    assert err.value.param == "messages[0].content" and err.value.code == "too_large"


def test_unknown_language() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse("x", "klingon")
    assert err.value.param == "language"


@pytest.mark.parametrize(("code", "name"), [
    ("import os\n\ndef main():\n    print(os.getcwd())\n", "python"),
    ("const xs = [1, 2, 3].map((x) => x * 2);\nconsole.log(xs);\n", "javascript"),
    ('package main\n\nimport "fmt"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n', "go"),
    ('fn main() {\n    let mut v = Vec::new();\n    v.push(1);\n    println!("{:?}", v);\n}\n',
     "rust"),
    ("public class Main {\n  public static void main(String[] args) {\n"
     '    System.out.println("hi");\n  }\n}\n', "java"),
    ("#!/usr/bin/env bash\nset -e\necho done\n", "bash"),
    ("#!/usr/bin/env python3\nx = 1\n", "python"),
])
def test_detection_of_typical_snippets(code: str, name: str) -> None:
    assert detect(code).name == name


def test_detection_prefers_the_parse_with_fewest_errors() -> None:
    code = "def f(x):\n    return x\n"
    assert detect(code, ["javascript", "python"]).name == "python"
    assert detect("x", ["go", "c"]).name in ("go", "c")


def test_shebang_decides_the_candidates() -> None:
    assert candidates_for("#!/usr/bin/env node\nx()\n") == ["javascript"]
    assert candidates_for("#!/bin/sh\n") == ["bash"]
    assert len(candidates_for("???")) > 3  # no hint: the common languages


def test_unbalanced_brackets_are_named_with_where_they_are() -> None:
    """The message a repair feeds back says which bracket is wrong and where, the way a
    compiler does (brackets in strings and comments are not counted)."""
    unclosed = ('def order(nums):\n    """A doc (with parens."""\n'
                "    return sorted(nums, key=lambda x: (sum(int(d) for d in str(x)), x)\n")
    [diag] = parse(unclosed, "python").diagnostics
    assert diag["message"].endswith("`(` at line 3, column 18 is never closed")
    mismatched = parse("x = [1, 2)\ny = 3\n", "python").diagnostics
    assert "`)` at line 1, column 10 does not match `[` at line 1, column 5" in \
        mismatched[0]["message"]
    stray = parse("x = f(1))  # (\n", "python").diagnostics
    assert stray[0]["message"].endswith("`)` at line 1, column 9 closes no bracket")
