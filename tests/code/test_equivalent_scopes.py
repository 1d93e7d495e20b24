"""Structural equivalence: which names count as local (code/scopes.py), per language, and
that languages without scope rules compare names exactly."""

from __future__ import annotations

from typing import Any

import pytest

from openmini.code.equivalent import equivalent
from openmini.code.parse import parse


def diff(a: str, b: str, language: str | None) -> dict[str, Any]:
    result = equivalent(a, b, language)
    assert result["equivalent"] is False and set(result) == {"equivalent", "difference"}
    difference: dict[str, Any] = result["difference"]
    return difference


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
