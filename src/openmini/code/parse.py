"""Parsing code with tree-sitter: syntax diagnostics, limits, and language detection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from openmini.code.languages import Language, find, language_for, parser
from openmini.errors import InvalidRequest

MAX_CODE_BYTES = 1 << 20  # per snippet; more is a 400 naming the field
MAX_DIAGNOSTICS = 50
HINT_CHARS = 2048  # detection's hints look at the start of a snippet only (~1 ms)


@dataclass(frozen=True)
class Parsed:
    """A parse: the language, the tree-sitter tree, the source bytes, the diagnostics
    (`{"line", "column", "node", "message"}`, 1-based, columns in characters)."""

    language: Language
    tree: Any
    source: bytes
    diagnostics: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def encode(code: Any, param: str = "code", max_bytes: int = MAX_CODE_BYTES) -> bytes:
    """The UTF-8 bytes of a snippet; not text, NUL bytes or over `max_bytes` -> a 400."""
    if not isinstance(code, str):
        raise InvalidRequest(f"'{param}' must be a string.", param=param)
    if "\x00" in code:
        raise InvalidRequest(f"'{param}' is not text: it contains NUL bytes.", param=param)
    try:
        data = code.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidRequest(f"'{param}' is not valid text.", param=param) from exc
    if len(data) > max_bytes:
        raise InvalidRequest(f"'{param}' is {len(data)} bytes, over the limit of {max_bytes}.",
                             param=param, code="too_large")
    return data


def _column(source: bytes, row: int, byte_col: int, starts: list[int]) -> int:
    """The 1-based character column of a (row, byte column) point."""
    start = starts[row] if row < len(starts) else len(source)
    return len(source[start:start + byte_col].decode("utf-8", "replace")) + 1


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 20 else text[:20] + "…"


def diagnostics(tree: Any, source: bytes, limit: int = MAX_DIAGNOSTICS) -> list[dict[str, Any]]:
    """Every ERROR and MISSING node of a tree, in source order, at most `limit`."""
    out: list[dict[str, Any]] = []
    if not tree.root_node.has_error:
        return out
    starts = [0] + [m.end() for m in re.finditer(b"\n", source)]
    cursor = tree.walk()
    while len(out) < limit:
        node = cursor.node
        descend = node.has_error
        if node.is_missing:
            kind = node.type
            message = f"missing `{kind}`" if not node.is_named else f"missing {kind}"
            out.append(_at(node, source, starts, kind, message))
        elif node.is_error:
            text = source[node.start_byte:node.end_byte].decode("utf-8", "replace")
            message = (f"syntax error: unexpected `{_snippet(text)}`" if text.strip()
                       else "syntax error")
            unbalanced = _brackets(node, source, starts)
            if unbalanced:
                message += f"; {unbalanced}"
            out.append(_at(node, source, starts, "ERROR", message))
            descend = any(c.is_missing or c.is_error for c in node.children)
        if descend and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return out
    return out


OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}


def _brackets(error: Any, source: bytes, starts: list[int]) -> str | None:
    """What is wrong with the brackets among an ERROR node's tokens, said the way a compiler
    says it (a model repairing the code is told where), or None when they balance. Only
    bracket tokens count: those inside strings and comments are not tokens."""
    stack: list[Any] = []
    for leaf in _leaves(error):
        kind = leaf.type
        if kind in OPENERS:
            stack.append(leaf)
        elif kind in CLOSERS:
            if not stack:
                return f"`{kind}` at {_where(leaf, source, starts)} closes no bracket"
            opener = stack.pop()
            if OPENERS[opener.type] != kind:
                return (f"`{kind}` at {_where(leaf, source, starts)} does not match "
                        f"`{opener.type}` at {_where(opener, source, starts)}")
    if stack:
        return f"`{stack[-1].type}` at {_where(stack[-1], source, starts)} is never closed"
    return None


def _leaves(node: Any) -> Any:
    if node.child_count == 0:
        if not node.is_missing:
            yield node
        return
    for child in node.children:
        yield from _leaves(child)


def _position(node: Any, source: bytes, starts: list[int]) -> tuple[int, int]:
    """A node's start as 1-based (line, character column)."""
    row, col = node.start_point
    return row + 1, _column(source, row, col, starts)


def _where(node: Any, source: bytes, starts: list[int]) -> str:
    line, column = _position(node, source, starts)
    return f"line {line}, column {column}"


def _at(node: Any, source: bytes, starts: list[int], kind: str, message: str) -> dict[str, Any]:
    line, column = _position(node, source, starts)
    return {"line": line, "column": column, "node": kind, "message": message}


def parse(code: str, language: Language | str, param: str = "code") -> Parsed:
    """Parse a snippet (a 400 naming `param` when it is not text or too large)."""
    lang = language if isinstance(language, Language) else language_for(language)
    source = encode(code, param)
    tree = parser(lang).parse(source)
    return Parsed(lang, tree, source, diagnostics(tree, source))


def error_count(tree: Any) -> int:
    """How many ERROR and MISSING nodes a tree has (no limit; for ranking parses)."""
    if not tree.root_node.has_error:
        return 0
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing or node.is_error:
            count += 1
        if node.has_error:
            stack.extend(node.children)
    return count


# Detection: the order both candidates are tried in and ties are broken by.
PREFERENCE = ("python", "javascript", "typescript", "java", "go", "rust", "c", "cpp", "csharp",
              "php", "ruby", "kotlin", "swift", "bash", "sql", "json", "yaml", "html", "css")
_SHEBANG_NAMES = {"python": "python", "node": "javascript", "deno": "typescript",
                  "bash": "bash", "sh": "bash", "zsh": "bash", "ruby": "ruby", "perl": "perl",
                  "php": "php", "lua": "lua", "rscript": "r", "julia": "julia",
                  "elixir": "elixir", "escript": "erlang", "pwsh": "powershell"}
# Cheap hints: a pattern that makes a language a candidate (never decides alone).
_HINTS: tuple[tuple[str, str], ...] = (
    (r"^\s*(def|class) \w+.*:\s*$|^\s*(from \S+ )?import \w|^\s*elif\b|print\(", "python"),
    (r"\b(const|let|var) \w+\s*=|\bfunction\b|=>|console\.log|\brequire\(", "javascript"),
    (r"\binterface \w+\s*\{|:\s*(string|number|boolean)\b|\btype \w+\s*=", "typescript"),
    (r"^package \w+\s*$|\bfunc\b|:=|\bfmt\.", "go"),
    (r"\bfn \w+|\blet mut\b|\bimpl\b|::|println!|\bpub\b", "rust"),
    (r"\b(public|private|protected)\b|System\.out|\bclass \w+\s*\{", "java"),
    (r"#include|\bint main\(|\bprintf\(|\bstruct \w+\s*\{", "c"),
    (r"#include|std::|\btemplate\s*<|\bnamespace\b|\bcout\b", "cpp"),
    (r"\busing System|\bnamespace\b|Console\.Write", "csharp"),
    (r"<\?php|\$\w+\s*=", "php"),
    (r"^\s*(def \w+[^:]*|end|require ['\"])\s*$|\bputs\b|\.each do\b", "ruby"),
    (r"\bfun \w+|\bval \w+", "kotlin"),
    (r"\bfunc \w+|\bguard\b|\bimport (UIKit|Foundation|SwiftUI)\b", "swift"),
    (r"^\s*(echo|export|if \[|for \w+ in|fi|done|cd|sudo|apt|pip|npm)\b|\$\{?\w", "bash"),
    (r"(?i)^\s*(select|insert into|create table|update \w+ set|delete from)\b", "sql"),
    (r"^\s*[\[{]", "json"),
    (r"^\s*[\w-]+:\s|^---\s*$|^\s*- \w", "yaml"),
    (r"(?i)^\s*<(!doctype|html|div|head|body)\b", "html"),
    (r"^\s*[.#]?[\w-]+\s*\{[^}]*:\s*[^;]+;", "css"),
)


def candidates_for(code: str) -> list[str]:
    """Likely languages for a snippet: its shebang's interpreter alone, else every language
    a cheap hint (keywords, punctuation) in its first `HINT_CHARS` points to, else the
    common languages."""
    return hinted_languages(code) or list(PREFERENCE[:12])


def hinted_languages(code: str) -> list[str]:
    """The languages a snippet's shebang or its cheap hints point to (none: no sign of
    code), in `PREFERENCE` order."""
    if code.startswith("#!"):
        words = [w.rsplit("/", 1)[-1] for w in code[2:].split("\n", 1)[0].split()]
        if words and words[0] == "env":
            words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        interpreter = re.sub(r"[^A-Za-z].*", "", words[0]) if words else ""  # python3.12
        if name := _SHEBANG_NAMES.get(interpreter.lower()):
            return [name]
    head = code[:HINT_CHARS]
    found = {lang for pattern, lang in _HINTS if re.search(pattern, head, re.MULTILINE)}
    return [name for name in PREFERENCE if name in found]


def detect(code: str, candidates: list[str] | None = None) -> Language:
    """The language a snippet is most likely written in (`detect_parse`)."""
    return detect_parse(code, candidates).language


def detect_parse(code: str, candidates: list[str] | None = None) -> Parsed:
    """The snippet parsed in the language it is most likely written in.

    Method: a short list of candidates (given, else `candidates_for`: the shebang's
    interpreter, else languages whose keywords or punctuation appear, else the common
    languages), each snippet parsed with each candidate's grammar; the candidate whose parse
    has the fewest ERROR and MISSING nodes wins, ties going to the earlier candidate (the
    order of `PREFERENCE` for hinted candidates). A parse with no error ends the search. The
    winner's tree is the one returned: nothing is parsed twice."""
    source = encode(code)
    names = candidates if candidates is not None else candidates_for(code)
    langs = [lang for name in names if (lang := find(name)) is not None]
    if not langs:
        language_for(names[0] if names else "", param="language")  # the 400
    best: tuple[Language, Any] | None = None
    best_errors = -1
    for lang in langs:
        tree = parser(lang).parse(source)
        errors = error_count(tree)
        if best_errors < 0 or errors < best_errors:
            best, best_errors = (lang, tree), errors
        if errors == 0:
            break
    assert best is not None
    return Parsed(best[0], best[1], source, diagnostics(best[1], source))
