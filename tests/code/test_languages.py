"""Every registered language parses a valid sample without diagnostics and reports at least
one on a broken one; names, aliases and extensions resolve."""

from __future__ import annotations

import pytest

from openmini.code.languages import LANGUAGES, find, language_for, language_for_path
from openmini.code.parse import parse
from openmini.errors import InvalidRequest

# language: (valid, broken)
SAMPLES: dict[str, tuple[str, str]] = {
    "python": ("def f(x):\n    return x + 1\n", "def f(x:\n    return x +\n"),
    "javascript": ("function f(x) { return x + 1; }\n", "function f(x { return x + ; }\n"),
    "typescript": ("function f(x: number): number { return x + 1; }\n",
                   "function f(x: number): { return x + ; }\n"),
    "tsx": ("const A = () => <div>{1}</div>;\n", "const A = () => <div>{1</div>;\n"),
    "java": ("class A { int f() { return 1; } }\n", "class A { int f() { return 1 } \n"),
    "c": ("int f(int x) { return x + 1; }\n", "int f(int x) { return x + 1 }\n"),
    "cpp": ("namespace n { int f() { return 1; } }\n", "namespace n { int f() { return 1 } }\n"),
    "csharp": ("class A { int F() { return 1; } }\n", "class A { int F() { return 1 } }\n"),
    "go": ("package main\n\nfunc f() int { return 1 }\n",
           "package main\n\nfunc f() int { return 1 \n"),
    "rust": ("fn f() -> i32 { 1 }\n", "fn f() -> i32 { let x = ; }\n"),
    "ruby": ("def f(x)\n  x + 1\nend\n", "def f(x)\n  x + \n"),
    "php": ("<?php\nfunction f($x) { return $x + 1; }\n",
            "<?php\nfunction f($x) { return $x + ; }\n"),
    "kotlin": ("fun f(x: Int): Int = x + 1\n", "fun f(x: Int): Int = x + \n"),
    "swift": ("func f(x: Int) -> Int { return x + 1 }\n", "func f(x: Int) -> Int { return x + }\n"),
    "scala": ("object A { def f(x: Int): Int = x + 1 }\n", "object A { def f(x: Int = }\n"),
    "sql": ("SELECT a, b FROM t WHERE c = 1;\n", "SELECT a FROM t WHERE (b = 1;\n"),
    "bash": ('if [ -f x ]; then\n  echo "yes"\nfi\n', 'if [ -f x ]; then\n  echo "yes"\n'),
    "html": ("<html><body><p>hi</p></body></html>\n", "<html><body><p>hi</p></body></html\n"),
    "css": ("a { color: red; }\n", "a { color: red; \n"),
    "json": ('{"a": [1, 2, {"b": null}]}\n', '{"a": [1, 2, {"b": }]\n'),
    "yaml": ("a: 1\nb:\n  - x\n  - y\n", "a: [1, 2\nb: }\n"),
    "toml": ('[a]\nb = 1\nc = "x"\n', '[a\nb = \n'),
    "lua": ("local function f(x) return x + 1 end\n", "local function f(x) return x + end\n"),
    "r": ("f <- function(x) { x + 1 }\n", "f <- function(x) { x + }\n"),
    "haskell": ("f :: Int -> Int\nf x = x + 1\n", "f :: Int ->\nf x = x + \n"),
    "perl": ("sub f { my $x = shift; return $x + 1; }\n",
             "sub f { my $x = shift; return $x + ; }\n"),
    "dart": ("int f(int x) { return x + 1; }\n", "int f(int x) { return x + ; }\n"),
    "elixir": ("defmodule A do\n  def f(x), do: x + 1\nend\n",
               "defmodule A do\n  def f(x), do: x +\n"),
    "erlang": ("-module(a).\nf(X) -> X + 1.\n", "-module(a).\nf(X) -> X + .\n"),
    "clojure": ("(defn f [x] (+ x 1))\n", "(defn f [x] (+ x 1)\n"),
    "ocaml": ("let f x = x + 1\n", "let f x = x + \n"),
    "julia": ("function f(x)\n    x + 1\nend\n", "function f(x)\n    x + \n"),
    "zig": ("fn f(x: i32) i32 {\n    return x + 1;\n}\n",
            "fn f(x: i32) i32 {\n    return x + ;\n}\n"),
    "objc": ("@interface A : NSObject\n- (int)f;\n@end\n", "@interface A : NSObject\n- (int)f\n"),
    # Markdown's grammar accepts any text: no broken sample.
    "markdown": ("# Title\n\nSome *text*.\n", ""),
    "dockerfile": ("FROM python:3.12\nRUN pip install x\n", "FROM\nRUN [\n"),
    "make": ("all: x\n\tcc -o x x.c\n", "all: $(x\n\tcc\n"),
    "xml": ('<?xml version="1.0"?>\n<a b="1"><c/></a>\n',
            '<?xml version="1.0"?>\n<a b="1><c/></a>\n'),
    "graphql": ("query Q { user(id: 1) { name } }\n", "query Q { user(id: 1) { name }\n"),
    "elm": ("module A exposing (f)\n\nf x =\n    x + 1\n",
            "module A exposing (f)\n\nf x =\n    x +\n"),
    "fortran": ("program p\n  integer :: x\n  x = 1\nend program p\n",
                "program p\n  integer :: x\n  x = \nend program p\n"),
    "powershell": ("function F($x) { return $x + 1 }\n", "function F($x) { return $x + }\n"),
    "groovy": ("def f(x) { return x + 1 }\n", "def f(x { (]\n"),
    "nix": ("{ a = 1; b = [ 1 2 ]; }\n", "{ a = 1; b = [ 1 2 ; }\n"),
    "vue": ("<template><div>{{ a }}</div></template>\n",
            "<template><div>{{ a }}</div></template\n"),
    "svelte": ("<script>let a = 1;</script>\n<p>{a}</p>\n",
               "<script>let a = 1;</script>\n<p>{a</p>\n"),
    "latex": ("\\section{A}\nText.\n", "\\section{A\nText.\n"),
    "hcl": ('resource "a" "b" {\n  x = 1\n}\n', 'resource "a" "b" {\n  x = \n}\n'),
    "cmake": ("project(a)\nadd_executable(a a.c)\n", "project(a\nadd_executable(a a.c)\n"),
    "ini": ("[a]\nb = 1\n", "[a\nb = 1\n"),
    "solidity": ("contract A { function f() public {} }\n",
                 "contract A { function f() public { }\n"),
    "scheme": ("(define (f x) (+ x 1))\n", "(define (f x) (+ x 1)\n"),
    "commonlisp": ("(defun f (x) (+ x 1))\n", "(defun f (x) (+ x 1)\n"),
    "fsharp": ("let f x = x + 1\n", "let f x = x + \n"),
    "nim": ("proc f(x: int): int = x + 1\n", "proc f(x: int): int = x + \n"),
    "verilog": ("module m(input a);\nendmodule\n", "module m(input a;\nendmodule\n"),
    "vhdl": ("entity e is\nend entity e;\n", "entity e is\nend entity\n"),
    "d": ("int f(int x) { return x + 1; }\n", "int f(int x) { return x + ; }\n"),
}

THE_40 = [
    "python", "javascript", "typescript", "tsx", "java", "c", "cpp", "csharp", "go",
    "rust", "ruby", "php", "kotlin", "swift", "scala", "sql", "bash", "html", "css",
    "json", "yaml", "toml", "lua", "r", "haskell", "perl", "dart", "elixir", "erlang",
    "clojure", "ocaml", "julia", "zig", "objc", "markdown", "dockerfile", "make", "xml",
    "graphql", "elm", "fortran",
]


def test_the_most_used_languages_are_registered() -> None:
    names = {lang.name for lang in LANGUAGES}
    assert set(THE_40) <= names
    assert names == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_valid_sample_parses_cleanly(name: str) -> None:
    assert parse(SAMPLES[name][0], name).diagnostics == []


@pytest.mark.parametrize("name", sorted(n for n, (_, broken) in SAMPLES.items() if broken))
def test_broken_sample_has_diagnostics(name: str) -> None:
    diagnostics = parse(SAMPLES[name][1], name).diagnostics
    assert diagnostics, name
    for d in diagnostics:
        assert d["line"] >= 1 and d["column"] >= 1 and d["message"]


@pytest.mark.parametrize(("alias", "name"), [
    ("py", "python"), ("js", "javascript"), ("ts", "typescript"), ("sh", "bash"),
    ("shell", "bash"), ("c++", "cpp"), ("cs", "csharp"), ("C#", "csharp"), ("rb", "ruby"),
    ("yml", "yaml"), ("golang", "go"), ("Python", "python"), ("python title=x.py", "python"),
])
def test_aliases(alias: str, name: str) -> None:
    lang = find(alias)
    assert lang is not None and lang.name == name


@pytest.mark.parametrize(("path", "name"), [
    ("a/b.py", "python"), ("x.tsx", "tsx"), ("Makefile", "make"), ("src/Dockerfile", "dockerfile"),
    ("m.R", "r"), ("lib.rs", "rust"), ("a.hpp", "cpp"), ("CMakeLists.txt", "cmake"),
])
def test_paths(path: str, name: str) -> None:
    lang = language_for_path(path)
    assert lang is not None and lang.name == name


def test_unknown_language_is_a_400_naming_the_field() -> None:
    assert language_for_path("notes.unknownext") is None
    with pytest.raises(InvalidRequest) as err:
        language_for("klingon", param="languages[0]")
    assert err.value.status == 400 and err.value.param == "languages[0]"
    assert "klingon" in err.value.message
