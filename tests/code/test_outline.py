"""Outlines: symbols, their kinds and parents, per language."""

from __future__ import annotations

from typing import Any

import pytest

from openmini.code.outline import outline


def summary(code: str, language: str | None = None) -> list[tuple[str, str, str | None]]:
    return [(s["kind"], s["name"], s["parent"]) for s in outline(code, language)["symbols"]]


def test_python() -> None:
    code = ("class A:\n    def m(self):\n        def inner():\n            pass\n\n"
            "@decorator\ndef f():\n    pass\n")
    assert summary(code, "python") == [
        ("class", "A", None), ("method", "m", "A"), ("function", "inner", "m"),
        ("function", "f", None)]
    result = outline(code, "python")
    assert result["language"] == "python" and result["diagnostics"] == []
    first = result["symbols"][0]
    assert first["start"] == {"line": 1, "column": 1} and first["end"]["line"] == 4


def test_javascript() -> None:
    code = "class A {\n  m() {}\n}\nfunction f() {}\nfunction* g() {}\n"
    assert summary(code, "javascript") == [
        ("class", "A", None), ("method", "m", "A"), ("function", "f", None),
        ("function", "g", None)]


def test_typescript() -> None:
    code = "interface I {}\ntype T = number;\nenum E { X }\nclass A { m() {} }\n"
    assert summary(code, "ts") == [("interface", "I", None), ("type", "T", None),
                                   ("enum", "E", None), ("class", "A", None),
                                   ("method", "m", "A")]


def test_go() -> None:
    code = ("package main\n\ntype S struct{}\ntype I interface{}\ntype N int\n\n"
            "func (s *S) M() {}\nfunc f() {}\n")
    assert summary(code, "go") == [
        ("struct", "S", None), ("interface", "I", None), ("type", "N", None),
        ("method", "M", "S"), ("function", "f", None)]


def test_rust() -> None:
    code = ("struct S;\nimpl S {\n    fn m(&self) {}\n}\ntrait T {\n    fn t(&self);\n}\n"
            "fn f() {}\nmod m {}\nenum E { X }\n")
    assert summary(code, "rust") == [
        ("struct", "S", None), ("impl", "S", None), ("method", "m", "S"), ("trait", "T", None),
        ("method", "t", "T"), ("function", "f", None), ("module", "m", None),
        ("enum", "E", None)]


def test_java() -> None:
    code = "class A {\n  A() {}\n  void m() {}\n  interface I {}\n}\nenum E { X }\n"
    assert summary(code, "java") == [
        ("class", "A", None), ("method", "A", "A"), ("method", "m", "A"),
        ("interface", "I", "A"), ("enum", "E", None)]


@pytest.mark.parametrize(("language", "code", "expected"), [
    ("c", "struct S { int x; };\nstatic char *g(void) { return 0; }\n",
     [("struct", "S", None), ("function", "g", None)]),
    ("cpp", "namespace N { class A { void f() {} }; }\nvoid A::g() {}\n",
     [("module", "N", None), ("class", "A", "N"), ("method", "f", "A"),
      ("function", "A::g", None)]),
    ("csharp", "namespace N { class A { void F() {} } struct S {} }",
     [("module", "N", None), ("class", "A", "N"), ("method", "F", "A"), ("struct", "S", "N")]),
    ("ruby", "module M\n  class A\n    def f; end\n  end\nend\n",
     [("module", "M", None), ("class", "A", "M"), ("method", "f", "A")]),
    ("php", "<?php\nclass A { function f() {} }\ntrait T {}\n",
     [("class", "A", None), ("method", "f", "A"), ("trait", "T", None)]),
    ("kotlin", "class A { fun f() {} }\ninterface I {}\nenum class E { X }\n",
     [("class", "A", None), ("method", "f", "A"), ("interface", "I", None), ("enum", "E", None)]),
    ("swift", "struct S { func f() {} }\nprotocol P {}\nextension S {}\n",
     [("struct", "S", None), ("method", "f", "S"), ("interface", "P", None), ("impl", "S", None)]),
])
def test_other_languages(language: str, code: str, expected: list[Any]) -> None:
    assert summary(code, language) == expected


def test_language_without_a_table_has_diagnostics_only() -> None:
    result = outline("(defn f [x]\n", "clojure")
    assert result["symbols"] == [] and result["diagnostics"]


def test_detected_language_and_broken_code() -> None:
    result = outline("def f(x):\n    return (x\n")
    assert result["language"] == "python"
    assert [s["name"] for s in result["symbols"]] == ["f"] and result["diagnostics"]
