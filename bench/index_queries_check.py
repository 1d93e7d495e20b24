"""Checks the index query set (bench/data/index_queries.json) against the corpus.

For every entry: the path is a Python file the index would read; the 1-based `start_line`
holds `def NAME` / `async def NAME` / `class NAME` for the symbol's last part; the qualified
symbol (`Class.method`) resolves through the file's syntax tree to a definition starting on
that very line (decorators aside); no query is repeated, no definition asked for twice; and
no query is just the identifier's words. It prints what the set is made of: kinds of
definition, files, and how many queries share a word with the identifier (the rest must be
found by meaning). Exits 1 on any failure.

    .venv/bin/python bench/index_queries_check.py
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from index_corpus import QUERIES, corpus_path, describe, load_queries, python_files

MIN_QUERIES = 50  # issue 25: "at least 50 natural-language queries"
DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def words(text: str) -> set[str]:
    """Lowercase words of a text or an identifier (snake_case and camelCase split)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", spaced.replace("_", " "))}


def resolve(tree: ast.Module, symbol: str) -> DefNode | None:
    """The definition a qualified symbol names (the first of that name at each level)."""
    node: ast.AST = tree
    found: DefNode | None = None
    for part in symbol.split("."):
        body = getattr(node, "body", [])
        found = next((c for c in body if isinstance(c, DefNode) and c.name == part), None)
        if found is None:
            return None
        node = found
    return found


def kind_of(tree: ast.Module, symbol: str, node: DefNode) -> str:
    if isinstance(node, ast.ClassDef):
        return "class"
    return "method" if "." in symbol and resolve(tree, symbol.rsplit(".", 1)[0]) else "function"


def check(root: Path, queries: list[dict[str, Any]],
          py: set[str]) -> tuple[list[str], Counter[str]]:
    errors: list[str] = []
    stats: Counter[str] = Counter()
    trees: dict[str, ast.Module] = {}
    seen_q: set[str] = set()
    seen_def: set[tuple[str, str]] = set()
    for i, q in enumerate(queries):
        where = f"#{i} {q.get('symbol')!r}"
        if set(q) != {"query", "path", "symbol", "start_line"}:
            errors.append(f"{where}: keys {sorted(q)}")
            continue
        text, path, symbol, line = q["query"], q["path"], q["symbol"], q["start_line"]
        if text.strip().lower() in seen_q:
            errors.append(f"{where}: query repeated")
        seen_q.add(text.strip().lower())
        if (path, symbol) in seen_def:
            errors.append(f"{where}: definition asked for twice")
        seen_def.add((path, symbol))
        if path not in py:
            errors.append(f"{where}: {path} is not a Python file the index reads")
            continue
        source = (root / path).read_text("utf-8")
        tree = trees.setdefault(path, ast.parse(source))
        name = symbol.rsplit(".", 1)[-1]
        lines = source.splitlines()
        text_line = lines[line - 1].strip() if 1 <= line <= len(lines) else ""
        if not re.match(rf"(async\s+def|def|class)\s+{re.escape(name)}\b", text_line):
            errors.append(f"{where}: {path}:{line} is {text_line[:60]!r}, not its def/class")
        node = resolve(tree, symbol)
        if node is None:
            errors.append(f"{where}: {symbol} not defined in {path}")
            continue
        if node.lineno != line:
            errors.append(f"{where}: {symbol} starts on line {node.lineno}, not {line}")
        ident, asked = words(name), words(text)
        if asked <= ident:
            errors.append(f"{where}: the query is only the identifier's words")
        stats[kind_of(tree, symbol, node)] += 1
        stats["shares a word with the identifier" if ident & asked
              else "no word of the identifier"] += 1
        stats["private (_name)"] += name.startswith("_")
    stats["files"] = len({q["path"] for q in queries})
    return errors, stats


def main() -> None:
    root = corpus_path()
    queries = load_queries()
    errors, stats = check(root, queries, set(python_files(root)))
    if len(queries) < MIN_QUERIES:
        errors.append(f"{len(queries)} queries, fewer than {MIN_QUERIES}")
    c = describe()
    print(f"{QUERIES.name}: {len(queries)} queries on {c['name']} {c['version']} ({root})")
    for key, n in stats.items():
        print(f"  {key}: {n}")
    for e in errors:
        print(f"FAIL {e}")
    print("OK" if not errors else f"{len(errors)} problem(s)")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
