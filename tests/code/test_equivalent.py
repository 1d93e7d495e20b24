"""Structural equivalence: layout, comments and consistent local renames are equal; any other
change is the first difference, at its position, in Python, JavaScript, Go, Rust and Java."""

from __future__ import annotations

import re
from typing import Any

import pytest

from openmini.code.equivalent import equivalent
from openmini.code.parse import parse
from openmini.errors import InvalidRequest

# The same function per language: a loop, locals, a string, a call to a global.
BASE = {
    "python": '''\
def scale(values, factor):
    total = 0
    for value in values:
        total = total + value * factor
    label = "sum"
    report(label, total)
    return total
''',
    "javascript": '''\
function scale(values, factor) {
  let total = 0;
  for (const value of values) {
    total = total + value * factor;
  }
  const label = "sum";
  report(label, total);
  return total;
}
''',
    "go": '''\
package main

func scale(values []int, factor int) int {
\ttotal := 0
\tfor _, value := range values {
\t\ttotal = total + value*factor
\t}
\tlabel := "sum"
\treport(label, total)
\treturn total
}
''',
    "rust": '''\
fn scale(values: &[i32], factor: i32) -> i32 {
    let mut total = 0;
    for value in values {
        total = total + value * factor;
    }
    let label = "sum";
    report(label, total);
    total
}
''',
    "java": '''\
class Scaler {
    int scale(int[] values, int factor) {
        int total = 0;
        for (int value : values) {
            total = total + value * factor;
        }
        String label = "sum";
        report(label, total);
        return total;
    }
}
''',
}
# The same code reformatted, with comments added and changed.
REFORMATTED = {
    "python": '''\
# scaling
def scale(values,factor):  # the sum
    total = 0

    for value in values :
        # accumulate
        total = total+value  *  factor
    label = "sum"
    report(label,
           total)
    return total
''',
    "javascript": '''\
/* scaling */
function scale(values,factor)
{
    let total = 0;  // start
    for (const value of values) { total = total+value*factor; }
    const label = "sum";
    report(label,
        total);
    return total;
}
''',
    "go": '''\
package main

// scale sums.
func scale(values []int, factor int) int {
\ttotal := 0 // start
\tfor _, value := range values { total = total + value * factor }
\tlabel := "sum"
\treport(label, total) /* report */
\treturn total
}
''',
    "rust": '''\
/// Scales.
fn scale(values: &[i32], factor: i32) -> i32
{
    let mut total = 0; // start
    for value in values { total = total + value*factor; }
    let label = "sum";
    report(label,
           total);
    total
}
''',
    "java": '''\
/** Scales. */
class Scaler
{
    int scale(int[] values, int factor)
    {
        int total = 0; // start
        for (int value : values) { total = total + value*factor; }
        String label = "sum";
        report(label, total);
        return total;
    }
}
''',
}
NAMES = {"values": "xs", "factor": "k", "total": "acc", "value": "x", "label": "name"}
LANGUAGES = list(BASE)


def rename(code: str, names: dict[str, str] = NAMES) -> str:
    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: names[m.group(1)], code)


def at(code: str, word: str, n: int = 0) -> dict[str, int]:
    """The 1-based position of the n-th (-1: the last) occurrence of `word` as a word."""
    index = [m.start() for m in re.finditer(r"(?<!\w)" + re.escape(word) + r"(?!\w)", code)][n]
    line = code.count("\n", 0, index) + 1
    return {"line": line, "column": index - (code.rfind("\n", 0, index) + 1) + 1}


def span(code: str, word: str, n: int = 0) -> dict[str, Any]:
    start = at(code, word, n)
    return {"start": start, "end": {"line": start["line"], "column": start["column"] + len(word)}}


def diff(a: str, b: str, language: str | None) -> dict[str, Any]:
    result = equivalent(a, b, language)
    assert result["equivalent"] is False and set(result) == {"equivalent", "difference"}
    difference: dict[str, Any] = result["difference"]
    return difference


@pytest.mark.parametrize("language", LANGUAGES)
def test_layout_and_comments_are_equivalent(language: str) -> None:
    assert parse(BASE[language], language).ok and parse(REFORMATTED[language], language).ok
    assert equivalent(BASE[language], REFORMATTED[language], language) == {
        "equivalent": True, "difference": None}
    assert equivalent(BASE[language], BASE[language], language)["equivalent"] is True


@pytest.mark.parametrize("language", LANGUAGES)
def test_consistently_renamed_locals_are_equivalent(language: str) -> None:
    assert equivalent(BASE[language], rename(BASE[language]), language)["equivalent"] is True
    assert equivalent(BASE[language], rename(REFORMATTED[language]), language)["equivalent"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_inconsistent_renaming_is_a_rename(language: str) -> None:
    a = BASE[language]
    renamed = rename(a)
    last = renamed.rindex("acc")
    b = renamed[:last] + "x" + renamed[last + 3:]  # total -> acc, but -> x at the end
    d = diff(a, b, language)
    assert d == {"kind": "rename", "a": span(a, "total", -1), "b": span(b, "x", -1)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_two_locals_merged_into_one_name_is_a_rename(language: str) -> None:
    a = BASE[language]
    b = rename(a, {**NAMES, "label": "acc"})  # total and label both -> acc
    d = diff(a, b, language)
    occurrence = b[:b.index('"sum"')].count("acc") - 1  # the one declared as "sum"
    assert d == {"kind": "rename", "a": span(a, "label"), "b": span(b, "acc", occurrence)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_renamed_global_function_is_a_rename(language: str) -> None:
    a = BASE[language]
    b = rename(a).replace("scale", "resize")
    assert diff(a, b, language) == {"kind": "rename", "a": span(a, "scale"),
                                    "b": span(b, "resize")}
    b = a.replace("report", "print_report")  # a called global, not bound locally
    assert diff(a, b, language) == {"kind": "rename", "a": span(a, "report"),
                                    "b": span(b, "print_report")}


def test_renamed_global_class_is_a_rename() -> None:
    a = BASE["java"]
    b = a.replace("Scaler", "Resizer")
    assert diff(a, b, "java") == {"kind": "rename", "a": span(a, "Scaler"),
                                  "b": span(b, "Resizer")}
    a, b = "class A:\n    pass\n", "class B:\n    pass\n"
    assert diff(a, b, "python")["a"]["start"] == {"line": 1, "column": 7}


@pytest.mark.parametrize("language", LANGUAGES)
def test_swapped_statements_differ_where_the_first_one_starts(language: str) -> None:
    a = BASE[language]
    lines = a.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if '"sum"' in line)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    b = "".join(lines)
    d = diff(a, b, language)
    assert d["kind"] in ("node", "text")
    indent = len(lines[i]) - len(lines[i].lstrip())
    start = {"line": i + 1, "column": indent + 1}
    assert d["a"]["start"] == start and d["b"]["start"] == start


@pytest.mark.parametrize("language", LANGUAGES)
def test_changed_operator_is_a_text_difference_at_the_operator(language: str) -> None:
    a = BASE[language]
    b = a.replace("total + value", "total - value")
    plus = at(a.replace("total + value", "total PLUS value"), "PLUS")
    point = {"line": plus["line"], "column": plus["column"]}
    one = {"line": plus["line"], "column": plus["column"] + 1}
    assert diff(a, b, language) == {"kind": "text", "a": {"start": point, "end": one},
                                    "b": {"start": point, "end": one}}


@pytest.mark.parametrize("language", LANGUAGES)
def test_changed_string_is_a_text_difference(language: str) -> None:
    a = BASE[language]
    b = a.replace('"sum"', '"avg"')
    assert diff(a, b, language) == {"kind": "text", "a": span(a, "sum"), "b": span(b, "avg")}


@pytest.mark.parametrize("language", LANGUAGES)
def test_syntax_error_points_at_the_first_diagnostic(language: str) -> None:
    a = BASE[language]
    b = a.replace("total + value", "total + ) value")
    first = parse(b, language).diagnostics[0]
    d = diff(a, b, language)
    assert d["kind"] == "syntax"
    assert d["a"] == {"start": {"line": 1, "column": 1}, "end": {"line": 1, "column": 1}}
    assert d["b"]["start"] == {"line": first["line"], "column": first["column"]}
    assert first["line"] == at(a, "factor", 1)["line"]  # the broken line
    d = diff(b, a, language)  # the other way round
    assert d["kind"] == "syntax" and d["a"]["start"]["line"] == first["line"]
    assert d["b"]["start"] == {"line": 1, "column": 1}


def test_extra_statement_is_missing_on_the_other_side() -> None:
    a = BASE["python"]
    b = a.replace("    return total", "    report(label, total)\n    return total")
    d = diff(a, b, "python")
    assert d == {"kind": "missing",
                 "a": {"start": {"line": 7, "column": 5}, "end": {"line": 7, "column": 5}},
                 "b": {"start": {"line": 7, "column": 5}, "end": {"line": 7, "column": 25}}}
    # at the end of a block: zero-width where the shorter block ends
    a = "def f(x):\n    g(x)\n"
    d = diff(a, "def f(x):\n    g(x)\n    g(x)\n", "python")
    assert d["kind"] == "missing"
    assert d["a"] == {"start": {"line": 2, "column": 9}, "end": {"line": 2, "column": 9}}
    assert d["b"]["start"] == {"line": 3, "column": 5}
    assert diff("def f(x):\n    g(x)\n    g(x)\n", a, "python")["kind"] == "missing"


def test_columns_count_characters() -> None:
    a = 'def f(x):\n    s = "é" + x\n'
    d = diff(a, a.replace("+", "-"), "python")
    assert d["a"] == {"start": {"line": 2, "column": 13}, "end": {"line": 2, "column": 14}}


def test_empty_and_comment_only_snippets_are_equivalent() -> None:
    assert equivalent("", "# nothing\n", "python")["equivalent"] is True
    assert equivalent("\n\n", "// nothing\n/* at all */\n", "js")["equivalent"] is True
    d = diff("x = 1\n", "# nothing\n", "python")
    assert d == {"kind": "missing",
                 "a": {"start": {"line": 1, "column": 1}, "end": {"line": 1, "column": 6}},
                 "b": {"start": {"line": 2, "column": 1}, "end": {"line": 2, "column": 1}}}


def test_language_is_detected_from_a() -> None:
    a = "function f(a) {\n  return a + 1;\n}\n"
    b = "function f(b) { return b + 1; } // renamed\n"
    assert equivalent(a, b) == {"equivalent": True, "difference": None}
    assert equivalent(a, b.replace("+", "*"))["difference"]["kind"] == "text"



@pytest.mark.parametrize(("args", "param"), [
    (("x\x00", "x", "python"), "a"),
    (("x", "x\x00", "python"), "b"),
    (("x\x00", "x", None), "a"),
    (("x", "x" * ((1 << 20) + 1), "python"), "b"),
    (("x" * ((1 << 20) + 1), "x", None), "a"),
    (("x", 3, "python"), "b"),
    (("x", "x", "klingon"), "language"),
])
def test_hostile_input_is_a_400_naming_the_field(args: tuple[Any, Any, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        equivalent(*args)
    assert info.value.param == param and info.value.status == 400
