"""A file's chunks: the units that are embedded, searched and returned.

Languages with a symbol table (code/outline.py: Python, JavaScript, TypeScript, Go, Rust,
Java, C, C++, C#, Ruby, PHP, Kotlin, Swift) are cut by definition (chunk_defs.py); other
files, and files tree-sitter cannot make sense of, by line windows (`window_lines` lines,
`window_overlap` of them shared with the previous window), never more than `max_chars`.

A chunk's `text` is what a search shows: the source lines `start_line`..`end_line`
(1-based, inclusive), except that a class's chunk has its methods' bodies left out (`...`)
and the second and later parts of a long definition begin with the definition's signature
line(s). What is embedded starts with a header line, the path and the symbol, so that a
vector knows where its code lives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from openmini.code.languages import Language

# What kinds a chunk can have: the definition kinds of code/outline.py, "code" (module-level
# code between definitions) and "window" (a line window of a file not cut by definition).
KINDS = frozenset({"function", "method", "class", "struct", "interface", "enum", "trait",
                   "impl", "module", "type", "code", "window"})


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    # all-MiniLM-L6-v2 reads 512 tokens at most (and was trained on far fewer); code runs
    # about 3 characters per WordPiece token, so 1500 characters stay near 500 tokens.
    max_chars: int = 1500
    max_lines: int = 80
    window_lines: int = 40
    window_overlap: int = 10


@dataclass(frozen=True, slots=True)
class Chunk:
    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    symbol: str | None  # the definition's qualified name (`Class.method`), None outside one
    kind: str
    language: str | None
    text: str

    def embed_text(self) -> str:
        """What is embedded: a header line (path, symbol) then the text."""
        head = f"{self.path} {self.symbol}" if self.symbol else self.path
        return f"{head}\n{self.text}"

    def key(self) -> str:
        """What decides whether a vector can be reused: symbol, kind, language and text, not
        the path (a file renamed or a function moved keeps its vectors)."""
        data = "\x00".join((self.symbol or "", self.kind, self.language or "", self.text))
        return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


class Lines:
    """A text's lines (split on "\\n", as tree-sitter counts rows) with their sizes."""

    def __init__(self, text: str):
        self.lines = text.split("\n")
        if len(self.lines) > 1 and self.lines[-1] == "":
            self.lines.pop()  # the final newline ends the last line; it opens none
        self._ends = [0]
        for line in self.lines:
            self._ends.append(self._ends[-1] + len(line) + 1)

    def __len__(self) -> int:
        return len(self.lines)

    def chars(self, first: int, last: int) -> int:
        """Characters of rows first..last (0-based, inclusive), newlines included."""
        return self._ends[last + 1] - self._ends[first]

    def text(self, first: int, last: int) -> str:
        return "\n".join(self.lines[first:last + 1])

    def blank(self, first: int, last: int) -> bool:
        return not any(c.isalnum() for line in self.lines[first:last + 1] for c in line)


def windows(lines: Lines, first: int, last: int, settings: ChunkSettings,
            header: str | None = None) -> list[tuple[int, int, str]]:
    """Rows first..last as windows: (start row, end row, text), each at most `window_lines`
    rows and `max_chars` characters (a longer single row is cut into pieces), consecutive
    windows sharing `window_overlap` rows; windows with no letter or digit are left out.
    `header`: a line put before every window's text (a signature)."""
    budget = max(settings.max_chars - (len(header) + 1 if header else 0), 200)
    prefix = f"{header}\n" if header else ""
    out: list[tuple[int, int, str]] = []
    start = first
    while start <= last:
        end = start
        while (end < last and end - start + 1 < settings.window_lines
               and lines.chars(start, end + 1) <= budget):
            end += 1
        if lines.chars(start, end) > budget and end == start:  # one row too long: pieces
            row = lines.lines[start]
            out.extend((start, start, prefix + row[i:i + budget])
                       for i in range(0, len(row), budget) if row[i:i + budget].strip())
        elif not lines.blank(start, end):
            out.append((start, end, prefix + lines.text(start, end)))
        if end >= last:
            break
        overlap = min(settings.window_overlap, (end - start + 1) // 2)  # always moving on
        start = max(end + 1 - overlap, start + 1)
    return out


def window_chunks(path: str, text: str, language: Language | None,
                  settings: ChunkSettings, kind: str = "window") -> list[Chunk]:
    """A whole file as line windows."""
    lines = Lines(text)
    name = language.name if language else None
    return [Chunk(path, a + 1, b + 1, None, kind, name, body)
            for a, b, body in windows(lines, 0, len(lines) - 1, settings)]


def chunk_file(path: str, text: str, language: Language | None,
               settings: ChunkSettings | None = None) -> list[Chunk]:
    """A file's chunks, in source order."""
    settings = settings or ChunkSettings()
    if not text.strip():
        return []
    if language is not None:
        from openmini.code.outline import KINDS as SYMBOL_TABLES

        if language.grammar in SYMBOL_TABLES:
            from openmini.index.chunk_defs import definition_chunks

            chunks = definition_chunks(path, text, language, settings)
            if chunks is not None:
                return chunks
    return window_chunks(path, text, language, settings)
