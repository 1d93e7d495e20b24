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


@pytest.mark.parametrize(("a", "b", "expected"), [
    # a class body's names are attributes, even inside a function
    ("def f():\n    x = 1\n    class A:\n        x = 2\n    return x\n",
     "def f():\n    y = 1\n    class A:\n        y = 2\n    return y\n", (4, 9)),
    # `global` names are not local
    ("def f():\n    global x\n    x = 1\n", "def f():\n    global y\n    y = 1\n", (2, 12)),
    # a keyword argument's name is the callee's parameter
    ("def f(x):\n    return g(x=x)\n", "def f(y):\n    return g(y=y)\n", (2, 14)),
    # an attribute name after a dot
    ("def f(o):\n    return o.size\n", "def f(p):\n    return p.length\n", (2, 14)),
    # renaming a local onto a global it uses
    ("def f(a):\n    return len(a)\n", "def f(len):\n    return len(len)\n", (2, 12)),
    # an imported name, even inside a function
    ("def f():\n    import os\n    return os\n", "def f():\n    import sys\n    return sys\n",
     (2, 12)),
])
def test_python_names_that_are_not_local(a: str, b: str, expected: tuple[int, int]) -> None:
    d = diff(a, b, "python")
    assert d["kind"] == "rename"
    assert (d["a"]["start"]["line"], d["a"]["start"]["column"]) == expected


@pytest.mark.parametrize(("a", "b"), [
    ("def f(x):\n    return g(x=x)\n", "def f(y):\n    return g(x=y)\n"),
    ("def f(a):\n    def g(b):\n        return a + b\n    return g\n",
     "def f(x):\n    def h(y):\n        return x + y\n    return h\n"),
    ("def f(xs):\n    return [x * 2 for x in xs if x]\n",
     "def f(ys):\n    return [y * 2 for y in ys if y]\n"),
    ("def f(p):\n    with open(p) as fh:\n        return fh.read()\n",
     "def f(q):\n    with open(q) as h:\n        return h.read()\n"),
    ("def f(n):\n    try:\n        return n\n    except E as e:\n        raise e\n",
     "def f(m):\n    try:\n        return m\n    except E as err:\n        raise err\n"),
    ("g = lambda v: v + 1\n", "g = lambda w: w + 1\n"),
    # a `;` between statements is layout, like a line break
    ("def f():\n    a = 1; b = 2\n    return a\n",
     "def f():\n    x = 1\n    y = 2\n    return x\n"),
])
def test_python_locals_renamed(a: str, b: str) -> None:
    assert equivalent(a, b, "python")["equivalent"] is True


@pytest.mark.parametrize(("language", "a", "b", "expected"), [
    # a shorthand property is the key too
    ("javascript", "function f(a) { return {a}; }", "function f(b) { return {b}; }", "rename"),
    ("javascript", "function f(a) { return {a: a}; }", "function f(b) { return {a: b}; }",
     True),
    ("javascript", "function f(a) { return x => x + a; }",
     "function f(b) { return y => y + b; }", True),
    ("javascript", "function f() { try { g(); } catch (e) { h(e); } }",
     "function f() { try { g(); } catch (err) { h(err); } }", True),
    # `for (j of xs)` without a declaration assigns an outer name
    ("javascript", "function f() { for (j of xs) use(j); }",
     "function f() { for (n of xs) use(n); }", "rename"),
    ("javascript", "function f(o) { return o.size; }", "function f(p) { return p.length; }",
     "rename"),
    ("typescript", "function f(a: number): number { const b: number = a; return b; }",
     "function f(x: number): number { const y: number = x; return y; }", True),
    # a composite literal's key is a field name
    ("go", "package p\nfunc f(Name int) T {\n\treturn T{Name: Name}\n}\n",
     "package p\nfunc f(b int) T {\n\treturn T{b: b}\n}\n", "rename"),
    ("go", "package p\nfunc f(a int) T {\n\treturn T{Name: a}\n}\n",
     "package p\nfunc f(b int) T {\n\treturn T{Name: b}\n}\n", True),
    ("go", "package p\nfunc (s *S) M() int {\n\treturn s.n\n}\n",
     "package p\nfunc (r *S) M() int {\n\treturn r.n\n}\n", True),
    ("rust", "fn f(x: u8) -> S { S { x } }", "fn f(y: u8) -> S { S { x: y } }", "node"),
    ("rust", "fn f(o: Option<u8>) -> u8 { match o { None => 0, Some(v) => v } }",
     "fn f(p: Option<u8>) -> u8 { match p { None => 0, Some(w) => w } }", True),
    # `None` in a pattern is a variant, not a binding
    ("rust", "fn f(o: Option<u8>) -> u8 { match o { None => 0, Some(v) => v } }",
     "fn f(o: Option<u8>) -> u8 { match o { Nothing => 0, Some(v) => v } }", "rename"),
    ("rust", "fn f() -> u8 { let g = |t| t + 1; g(1) }",
     "fn f() -> u8 { let h = |u| u + 1; h(1) }", True),
    ("java", "class A { int f(A o) { return o.size; } }",
     "class A { int f(A p) { return p.len; } }", "rename"),
    ("java", "class A { int f(int x) { return g(x); } }",
     "class A { int f(int y) { return h(y); } }", "rename"),
    ("java", "class A { void f() { Runnable r = () -> g(r); } }",
     "class A { void f() { Runnable q = () -> g(q); } }", True),
    # an anonymous class's field is an attribute
    ("java", "class A { void f() { Object r = new Object() { int n; }; } }",
     "class A { void f() { Object q = new Object() { int m; }; } }", "rename"),
    ("c", "int f(int n) { int s = 0; for (int i = 0; i < n; i++) s += i; return s; }",
     "int f(int m) { int t = 0; for (int j = 0; j < m; j++) t += j; return t; }", True),
    ("c", "int f(struct P *p) { return p->x; }", "int f(struct P *q) { return q->y; }", "rename"),
    ("cpp", "int f(int a) { auto g = [&](int k) { return k + a; }; return g(1); }",
     "int f(int b) { auto h = [&](int q) { return q + b; }; return h(1); }", True),
    ("cpp", "int f(int a) { return std::max(a, 1); }", "int f(int a) { return std::min(a, 1); }",
     "rename"),
])
def test_locals_and_names_per_language(language: str, a: str, b: str,
                                       expected: bool | str) -> None:
    """`expected`: True (equivalent) or the kind of the difference."""
    assert parse(a, language).ok and parse(b, language).ok
    result = equivalent(a, b, language)
    assert result["equivalent"] is (expected is True), result
    if expected is not True:
        assert result["difference"]["kind"] == expected


def test_other_languages_compare_names_exactly() -> None:
    a = "def f(x)\n  x + 1 # add\nend\n"
    assert equivalent(a, "def f(x)\n  x+1\nend\n", "ruby")["equivalent"] is True
    d = diff(a, "def f(y)\n  y + 1\nend\n", "ruby")
    assert d["kind"] == "rename" and d["a"]["start"] == {"line": 1, "column": 7}


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
