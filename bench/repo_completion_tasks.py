"""Builds the cross-file completion tasks of issue 25 (bench/data/repo_completion.json).

From the corpus (bench/index_corpus.py: networkx 3.6.1, the Python files the index reads),
lines that call a definition living in another file of the project; a later benchmark masks
the line and asks for it, with and without the codebase index (exact match).

Symbol table (Python's `ast`): per file, the names of its top-level functions and classes and
of its classes' methods; also every name the file binds itself (any def or class, module-level
assignments). A call is cross-file when the called name is not bound in the calling file and
it resolves to exactly one other file:
- `name(...)`: through the file's `from M import name [as alias]` (the module's file when it
  defines the name; otherwise, for re-exports, the one file in the project defining it);
- `mod.name(...)` / `nx.sub.name(...)` where `mod` is an imported networkx module or `nx`:
  the one file defining `name` at top level;
- `obj.name(...)` on anything else: the one non-test file whose classes define a method
  `name`. Attributes of builtin and standard-library objects (`fh.read()`, `seed.choice()`),
  dunders and names defined in several files are left out as ambiguous.
A candidate line holds one whole statement on one line (or the header of a compound one,
`for x in f(...):`), no comment, at most 120 characters; decorator lines are not statements.
Names called on candidate lines of more than 20 files (`MAX_CALLERS`: Graph, DiGraph, ...)
are the common API a model knows without any index, and are left out. Preferred, and used
alone when they suffice: lines where the called name, as written, appears on no other line
of the file, imports included, so that nothing else in the file shows it. Sampling is
deterministic (`--seed`): shuffled, then at most one task per file and two per called name.

Each task: `path`, `line` (1-based), `prefix` (the file's text before the line), `suffix`
(after it, from the next line), `target` (the line, without its newline), `uses`: `name`,
`defined_in` (path), `kind` (function, class or method); `written`: the name as the line
calls it (an import may rename it); `name_elsewhere`: the number of other lines of the file
naming it; `test`: whether the file is under a tests directory. prefix + target + "\n" +
suffix is the file's text. The file is 1.5 MB with them; `--slim` leaves prefix and suffix
out (`load_tasks()` fills them in from the corpus, checking each target against its line).

    .venv/bin/python bench/repo_completion_tasks.py [--count 100] [--seed 25] [--slim]
"""

from __future__ import annotations

import argparse
import ast
import builtins
import io
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index_corpus import TASKS, corpus_path, describe, python_files

MAX_LINE = 120
PACKAGE = "networkx"
MAX_CALLERS = 20  # names called from more files are the common API (Graph, complete_graph)
# Attributes of builtin and standard-library objects: `x.read()` or `seed.choice()` is a file's
# or a random.Random's method even where a class of the project happens to define one too.
BUILTIN_ATTRS = frozenset(a for t in (dict, list, set, frozenset, str, bytes, tuple, int, float,
                                      complex, object, type(iter([])), Exception, random.Random,
                                      io.TextIOWrapper, io.BufferedReader, io.BufferedWriter,
                                      io.StringIO, io.BytesIO)
                          for a in dir(t)) | frozenset(dir(builtins))


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str
    line: int
    name: str  # as defined (an import may rename it: `written`)
    written: str
    defined_in: str
    kind: str
    elsewhere: int  # other lines of the file naming it as written, imports included


class Table:
    """Which files define each name: at top level (function or class) and as a method."""

    def __init__(self, trees: dict[str, ast.Module]):
        self.top: dict[str, set[str]] = defaultdict(set)
        self.kind: dict[tuple[str, str], str] = {}
        self.method: dict[str, set[str]] = defaultdict(set)
        for path, tree in trees.items():
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    self.top[node.name].add(path)
                    self.kind[path, node.name] = ("class" if isinstance(node, ast.ClassDef)
                                                  else "function")
                if isinstance(node, ast.ClassDef) and not is_test(path):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            self.method[item.name].add(path)

    def only(self, paths: set[str], here: str) -> str | None:
        return next(iter(paths)) if len(paths) == 1 and here not in paths else None


def is_test(path: str) -> bool:
    return "/tests/" in f"/{path}"


def module_file(module: str, files: set[str]) -> str | None:
    base = module.replace(".", "/")
    return next((p for p in (f"{base}.py", f"{base}/__init__.py") if p in files), None)


def absolute(path: str, node: ast.ImportFrom) -> str:
    """The module an ImportFrom names, relative imports resolved against the file's path."""
    if not node.level:
        return node.module or ""
    parts = path.split("/")[:-1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def bound_names(tree: ast.Module) -> set[str]:
    """Names the file defines itself: any def or class, module-level assignments."""
    names = {n.name for n in ast.walk(tree)
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else [])
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def imports(path: str, tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """Names imported from modules (alias -> "module:name") and module aliases (alias ->
    module)."""
    names: dict[str, str] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else \
                    a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            mod = absolute(path, node)
            for a in node.names:
                names[a.asname or a.name] = f"{mod}:{a.name}"
    return names, modules


def statement_lines(tree: ast.Module) -> dict[int, ast.stmt]:
    """Line -> the statement owning it, for statements whose code (or header) is one line."""
    out: dict[int, ast.stmt] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:  # compound: only a one-line header counts
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if body[0].lineno > node.lineno:
                out.setdefault(node.lineno, node)
        elif node.lineno == node.end_lineno:
            out[node.lineno] = node
    return out


def callee(call: ast.Call) -> tuple[str, ast.expr | None] | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id, None
    if isinstance(f, ast.Attribute):
        return f.attr, f.value
    return None


def root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def resolve(call: ast.Call, path: str, table: Table, files: set[str], own: set[str],
            names: dict[str, str], modules: dict[str, str]) -> tuple[str, str, str] | None:
    """(name, defined_in, kind) for a call of a definition in another file, else None."""
    got = callee(call)
    if got is None or got[0] in own or got[0].startswith("__"):
        return None
    name, obj = got
    if obj is None:
        if name not in names:
            return None
        mod, real = names[name].split(":")
        if not mod.startswith(PACKAGE) or real in own:
            return None
        target = module_file(mod, files)
        if target is None or target == path or (target, real) not in table.kind:
            target = table.only(table.top.get(real, set()), path)
        return (real, target, table.kind[target, real]) if target else None
    base = root_name(obj)
    if base is not None and base in modules and base not in own:
        if not modules[base].startswith(PACKAGE):
            return None
        target = table.only(table.top.get(name, set()), path)
        return (name, target, table.kind[target, name]) if target else None
    if base in names or name in BUILTIN_ATTRS or name in table.top:
        return None  # an external object's attribute, a builtin's, or a function's name
    target = table.only(table.method.get(name, set()), path)
    return (name, target, "method") if target else None


def segment(line: str, node: ast.stmt) -> str:
    """A one-line node's source (its offsets count UTF-8 bytes)."""
    return line.encode()[node.col_offset:node.end_col_offset].decode(errors="replace")


def candidates(path: str, text: str, tree: ast.Module, table: Table,
               files: set[str]) -> list[Candidate]:
    lines = text.split("\n")
    own = bound_names(tree)
    names, modules = imports(path, tree)
    owners = statement_lines(tree)
    found: dict[int, Candidate] = {}
    where: dict[str, set[int]] = defaultdict(set)  # word -> lines naming it
    for i, ln in enumerate(lines, 1):
        for w in re.findall(r"\w+", ln):
            where[w].add(i)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or node.lineno != node.end_lineno:
            continue
        stmt = owners.get(node.lineno)
        if stmt is None or node.lineno in found:
            continue
        line = lines[node.lineno - 1]
        code = line.strip()
        if len(line) > MAX_LINE or "#" in line or ";" in line:
            continue
        if stmt.lineno == stmt.end_lineno and segment(line, stmt) != code:
            continue  # the line holds more (or less) than the statement
        hit = resolve(node, path, table, files, own, names, modules)
        if hit is None:
            continue
        name, defined_in, kind = hit
        written = callee(node)
        assert written is not None  # resolve() found one
        elsewhere = len(where[written[0]] - {node.lineno})
        found[node.lineno] = Candidate(path, node.lineno, name, written[0], defined_in, kind,
                                       elsewhere)
    return list(found.values())


def pick(cands: list[Candidate], count: int, seed: int) -> list[Candidate]:
    """Deterministic: the common API left out, shuffled, then at most one per file and two
    per called name, preferred lines (the name on no other line) first."""
    callers: dict[str, set[str]] = defaultdict(set)
    for c in cands:
        callers[c.name].add(c.path)
    rng = random.Random(seed)
    pool = sorted((c for c in cands if len(callers[c.name]) <= MAX_CALLERS),
                  key=lambda c: (c.path, c.line))
    rng.shuffle(pool)
    pool.sort(key=lambda c: c.elsewhere > 0)  # stable: preferred first, shuffled within
    chosen: list[Candidate] = []
    files: set[str] = set()
    per_name: Counter[str] = Counter()
    for c in pool:
        if c.path in files or per_name[c.name] >= 2:
            continue
        chosen.append(c)
        files.add(c.path)
        per_name[c.name] += 1
        if len(chosen) == count:
            break
    return sorted(chosen, key=lambda c: (c.path, c.line))


def task(c: Candidate, text: str) -> dict[str, Any]:
    lines = text.splitlines(keepends=True)
    prefix, target, suffix = "".join(lines[: c.line - 1]), lines[c.line - 1], \
        "".join(lines[c.line:])
    assert target.endswith("\n") and prefix + target + suffix == text
    return {"path": c.path, "line": c.line, "prefix": prefix, "suffix": suffix,
            "target": target[:-1],
            "uses": {"name": c.name, "defined_in": c.defined_in, "kind": c.kind},
            "written": c.written, "name_elsewhere": c.elsewhere, "test": is_test(c.path)}


def load_tasks(path: Path = TASKS) -> list[dict[str, Any]]:
    """The tasks, with prefix and suffix (from the corpus when the file was written slim)."""
    tasks: list[dict[str, Any]] = json.loads(path.read_text())["tasks"]
    root = corpus_path()
    for t in tasks:
        if "prefix" not in t:
            lines = (root / t["path"]).read_text("utf-8").splitlines(keepends=True)
            t["prefix"] = "".join(lines[: t["line"] - 1])
            t["suffix"] = "".join(lines[t["line"]:])
            if lines[t["line"] - 1] != t["target"] + "\n":
                raise ValueError(f"{t['path']}:{t['line']} is not {t['target']!r}")
    return tasks


def main() -> None:
    p = argparse.ArgumentParser(description="build the cross-file completion tasks")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--seed", type=int, default=25)
    p.add_argument("--out", type=Path, default=TASKS)
    p.add_argument("--slim", action="store_true", help="leave prefix and suffix out")
    a = p.parse_args()
    root = corpus_path()
    texts = python_files(root)
    trees = {path: ast.parse(text) for path, text in texts.items()}
    table = Table(trees)
    files = set(texts)
    cands = [c for path in sorted(trees)
             for c in candidates(path, texts[path], trees[path], table, files)]
    chosen = pick(cands, a.count, a.seed)
    tasks = [task(c, texts[c.path]) for c in chosen]
    if a.slim:
        tasks = [{k: v for k, v in t.items() if k not in ("prefix", "suffix")} for t in tasks]
    body = {"corpus": describe(), "seed": a.seed, "candidates": len(cands),
            "about": "Cross-file completion tasks: bench/repo_completion_tasks.py's docstring.",
            "tasks": tasks}
    a.out.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    kinds = Counter(t["uses"]["kind"] for t in tasks)
    print(f"{len(cands)} candidate lines in {len({c.path for c in cands})} files; "
          f"{len(tasks)} tasks written to {a.out} ({a.out.stat().st_size / 1e6:.1f} MB)")
    print(f"  kinds {dict(kinds)}; in tests {sum(t['test'] for t in tasks)}; name on no "
          f"other line {sum(t['name_elsewhere'] == 0 for t in tasks)}; distinct names "
          f"{len({t['uses']['name'] for t in tasks})}; defining files "
          f"{len({t['uses']['defined_in'] for t in tasks})}")


if __name__ == "__main__":
    main()
