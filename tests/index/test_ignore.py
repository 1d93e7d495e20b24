"""Ignore rules (index/ignore.py): git's semantics per directory (nested .gitignore files,
negation, directory-only and anchored patterns), git's exclude file, .openminiignore over
.gitignore, the built-in defaults (vendored trees, lock files) and their re-inclusion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openmini.index.ignore import IgnoreRules, is_ignore_file
from openmini.index.walk import walk

Tree = Callable[[dict[str, str | bytes]], Path]


def paths(root: Path) -> list[str]:
    return [f.path for f in walk(root, IgnoreRules(root))]


def test_nested_gitignores_negation_and_directory_patterns(tree: Tree) -> None:
    root = tree({
        ".gitignore": "*.log\n!keep.log\nbuild-out/\n/top_only.txt\n",
        "a.py": "x = 1\n", "debug.log": "x", "keep.log": "x", "top_only.txt": "x",
        "build-out/gen.py": "x = 1\n", "notes/build-out": "a file, not a directory\n",
        "sub/top_only.txt": "x", "sub/.gitignore": "!debug.log\nsecret.py\n",
        "sub/debug.log": "x", "sub/secret.py": "x = 1\n", "sub/deeper/secret.py": "x = 2\n",
        "sub/deeper/other.log": "x",
    })
    assert paths(root) == [
        ".gitignore", "a.py", "keep.log", "notes/build-out", "sub/.gitignore",
        "sub/debug.log", "sub/top_only.txt",
    ]


def test_a_file_under_an_ignored_directory_cannot_be_re_included(tree: Tree) -> None:
    root = tree({".gitignore": "logs/\n!logs/keep.txt\n", "logs/keep.txt": "x", "a.txt": "x"})
    assert paths(root) == [".gitignore", "a.txt"]


def test_git_exclude_file_and_openminiignore_over_gitignore(tree: Tree) -> None:
    root = tree({
        ".git/info/exclude": "local.py\nshared.py\n", ".gitignore": "!shared.py\nbig.csv\n",
        ".openminiignore": "fixtures/\n!big.csv\n", "local.py": "x = 1\n",
        "shared.py": "x = 1\n", "big.csv": "a,b\n", "fixtures/data.json": "{}",
        ".git/config": "[core]\n",
    })
    assert paths(root) == [".gitignore", ".openminiignore", "big.csv", "shared.py"]


def test_vendored_generated_and_lock_files_are_left_out_by_default(tree: Tree) -> None:
    root = tree({
        "src/app.js": "let a = 1\n", "node_modules/lib/index.js": "x\n",
        "vendor/pkg/a.go": "package a\n", "third_party/x.c": "int x;\n",
        "dist/app.js": "x\n", "build/out.py": "x\n", "__pycache__/a.pyc": b"\x00",
        ".venv/lib/site.py": "x\n", "venv/bin/activate": "x\n", "target/debug/a.rs": "x\n",
        "web/app.min.js": "x\n", "package-lock.json": "{}", "poetry.lock": "x",
        "Cargo.lock": "x", "go.sum": "x", "img/logo.png": b"\x89PNG", "a.py~": "x",
        ".hg/store": "x", ".svn/entries": "x",
    })
    assert paths(root) == ["src/app.js"]


def test_an_ignore_file_re_includes_a_default(tree: Tree) -> None:
    root = tree({".openminiignore": "!vendor/\n", "vendor/pkg/a.go": "package a\n",
                 "node_modules/x.js": "x\n"})
    assert paths(root) == [".openminiignore", "vendor/pkg/a.go"]


def test_ignored_checks_every_parent_directory(tree: Tree) -> None:
    root = tree({".gitignore": "gen/\n", "sub/.gitignore": "*.tmp\n"})
    rules = IgnoreRules(root)
    assert rules.ignored("gen/x/y.py")
    assert rules.ignored("node_modules/a/b.js")
    assert rules.ignored("sub/a.tmp") and not rules.ignored("sub/a.py")
    assert rules.ignored(".git/config") and not rules.ignored("src/main.py")


def test_invalidate_reads_changed_rules(tree: Tree) -> None:
    root = tree({"a.py": "x\n"})
    rules = IgnoreRules(root)
    assert not rules.ignored("a.py")
    (root / ".gitignore").write_text("a.py\n")
    assert not rules.ignored("a.py")  # read once, cached
    rules.invalidate()
    assert rules.ignored("a.py")


def test_is_ignore_file() -> None:
    assert is_ignore_file(".gitignore") and is_ignore_file("a/b/.openminiignore")
    assert is_ignore_file(".git/info/exclude") and not is_ignore_file("gitignore.py")
