"""Chunking (index/chunk.py, chunk_defs.py): definitions per language with their doc
comments, decorators and enclosing names; class chunks with members reduced to signatures;
module-level code; long definitions cut at statements with the signature kept; line
windows for files tree-sitter cannot parse and for languages without a symbol table."""

from __future__ import annotations

import itertools

from openmini.code.languages import language_for_path
from openmini.index.chunk import Chunk, ChunkSettings, Lines, chunk_file, windows


def chunks(path: str, text: str, settings: ChunkSettings | None = None) -> list[Chunk]:
    return chunk_file(path, text, language_for_path(path), settings)


def table(found: list[Chunk]) -> list[tuple[str | None, str, int, int]]:
    return [(c.symbol, c.kind, c.start_line, c.end_line) for c in found]


PYTHON = '''"""Dates."""
import re

# Parses an HTTP date.
@cache
def parse_http_date(value):
    """Return the timestamp of an HTTP date."""
    return 0


class Client(Base):
    """An HTTP client."""

    timeout = 10

    def get(self, url):
        """Fetch a URL."""
        def helper():
            return url
        return helper()

    class Retry:
        def backoff(self, n):
            return 2 ** n

VERSION = "1.0"
'''


def test_python_definitions_enclosing_names_and_module_code() -> None:
    found = chunks("pkg/dates.py", PYTHON)
    assert table(found) == [
        (None, "code", 1, 2),
        ("parse_http_date", "function", 4, 8),
        ("Client", "class", 11, 24),
        ("Client.get", "method", 16, 20),
        ("Client.Retry", "class", 22, 24),
        ("Client.Retry.backoff", "method", 23, 24),
        (None, "code", 26, 26),
    ]
    by = {c.symbol: c for c in found}
    function = by["parse_http_date"].text
    assert function.startswith("# Parses an HTTP date.\n@cache\ndef parse_http_date(value):")
    assert '"""Return the timestamp of an HTTP date."""' in function
    summary = by["Client"].text
    assert summary == ('class Client(Base):\n    """An HTTP client."""\n\n    timeout = 10\n\n'
                       "    def get(self, url): ...\n\n    class Retry: ...")
    assert "def helper" in by["Client.get"].text  # a nested function stays in its function
    assert all(c.language == "python" and c.path == "pkg/dates.py" for c in found)
    assert by["Client.get"].embed_text().startswith("pkg/dates.py Client.get\n    def get(")


def test_javascript() -> None:
    code = ("/** Parse a date. */\nexport function parseHttpDate(s) {\n  return 1;\n}\n\n"
            "class Cache extends Map {\n  // Look up a key.\n  lookup(key) {\n    return 1;\n"
            "  }\n}\nconst x = () => 1;\n")
    found = chunks("src/date.js", code)
    assert table(found) == [("parseHttpDate", "function", 1, 4), ("Cache", "class", 6, 11),
                            ("Cache.lookup", "method", 7, 10), (None, "code", 12, 12)]
    assert found[0].text.startswith("/** Parse a date. */\nexport function")
    assert found[1].text == "class Cache extends Map {\n  lookup(key) { ... }\n}"
    assert found[2].text.startswith("  // Look up a key.\n  lookup(key) {")


def test_go_methods_take_their_receivers_name() -> None:
    code = ("package server\n\nimport \"net/http\"\n\n// Server serves.\ntype Server struct {\n"
            "\taddr string\n}\n\n// Handle handles.\n"
            "func (s *Server) Handle(w http.ResponseWriter) {\n\tw.Write(nil)\n}\n\n"
            "func New() *Server {\n\treturn &Server{}\n}\n")
    assert table(chunks("server.go", code)) == [
        (None, "code", 1, 3), ("Server", "struct", 5, 8), ("Server.Handle", "method", 10, 13),
        ("New", "function", 15, 17)]


def test_rust_impl_and_trait_members() -> None:
    code = ("/// A point.\n#[derive(Debug)]\npub struct Point { x: i32 }\n\nimpl Point {\n"
            "    /// Make one.\n    pub fn new() -> Self {\n        Point { x: 0 }\n    }\n}\n\n"
            "pub trait Shape {\n    fn area(&self) -> f64;\n    fn name(&self) -> String {\n"
            "        String::new()\n    }\n}\n")
    found = chunks("src/geo.rs", code)
    assert table(found) == [("Point", "struct", 1, 3), ("Point", "impl", 5, 10),
                            ("Point.new", "method", 6, 9), ("Shape", "trait", 12, 17),
                            ("Shape.name", "method", 14, 16)]
    assert found[0].text.startswith("/// A point.\n#[derive(Debug)]")
    assert found[3].text == ("pub trait Shape {\n    fn area(&self) -> f64;\n"
                             "    fn name(&self) -> String { ... }\n}")


def test_java_nested_types_and_javadoc() -> None:
    code = ("package a;\n\n/** A cache. */\npublic class Cache {\n  private int size;\n\n"
            "  /** Get a value. */\n  @Override\n  public int get(int key) {\n    return key;\n"
            "  }\n\n  static class Entry {\n    int hash() { return 1; }\n  }\n}\n")
    found = chunks("Cache.java", code)
    assert table(found) == [(None, "code", 1, 1), ("Cache", "class", 3, 16),
                            ("Cache.get", "method", 7, 11), ("Cache.Entry", "class", 13, 15),
                            ("Cache.Entry.hash", "method", 14, 14)]
    assert found[2].text.startswith("  /** Get a value. */\n  @Override\n  public int get(")


def test_a_long_definition_is_cut_at_statements_keeping_its_signature() -> None:
    body = "".join(f"    value_{i} = compute_something({i}, 'abcdefghijklmnop')\n"
                   for i in range(60))
    code = f"def long_function(a, b):\n    \"\"\"Doc.\"\"\"\n{body}    return a\n"
    settings = ChunkSettings(max_chars=800)
    found = chunks("long.py", code, settings)
    assert len(found) >= 4
    assert {c.symbol for c in found} == {"long_function"}
    assert found[0].start_line == 1 and found[0].text.startswith("def long_function(a, b):")
    for prev, part in itertools.pairwise(found):
        assert part.start_line == prev.end_line + 1  # no line lost, none twice
        assert part.text.startswith("def long_function(a, b):\n    value_")
        assert len(part.text) <= 800
    assert found[-1].end_line == 63 and found[-1].text.endswith("    return a")


def test_a_long_class_summary_is_windowed_with_its_header() -> None:
    methods = "".join(f"    def method_{i}(self, argument_{i}):\n        return {i}\n\n"
                      for i in range(30))
    found = chunks("big.py", f"class Big:\n{methods}", ChunkSettings(max_chars=400))
    summaries = [c for c in found if c.symbol == "Big"]
    assert len(summaries) > 1 and all(c.text.startswith("class Big:\n") for c in summaries)
    assert len([c for c in found if c.kind == "method"]) == 30


def test_unparseable_file_falls_back_to_line_windows() -> None:
    code = "".join(f"is {{ not ]] py ( {i} <<\n" for i in range(100))
    found = chunks("broken.py", code)
    assert {c.kind for c in found} == {"window"} and found[0].symbol is None
    assert [(c.start_line, c.end_line) for c in found[:3]] == [(1, 40), (31, 70), (61, 100)]
    assert found[0].language == "python"


def test_markdown_and_unknown_files_are_windowed() -> None:
    text = "# Title\n\n" + "".join(f"Line {i} of prose.\n" for i in range(50))
    found = chunks("README.md", text)
    assert [(c.start_line, c.end_line, c.kind, c.language) for c in found] == [
        (1, 40, "window", "markdown"), (31, 52, "window", "markdown")]
    assert chunks("notes.txt", "hello\n")[0].language is None
    assert chunks("empty.py", "\n\n") == []


def test_a_script_without_definitions_is_module_code() -> None:
    assert table(chunks("run.py", "import sys\n\nprint(sys.argv)\n")) == [(None, "code", 1, 3)]


def test_windows_cut_a_line_longer_than_the_budget() -> None:
    lines = Lines("short\n" + "x" * 2500 + "\nend\n")
    found = windows(lines, 0, 2, ChunkSettings(max_chars=1000))
    assert [(a, b) for a, b, _ in found] == [(0, 0), (1, 1), (1, 1), (1, 1), (2, 2)]
    assert all(len(text) <= 1000 for _, _, text in found)


def test_keys_ignore_the_path_but_not_the_text() -> None:
    a = Chunk("a.py", 1, 2, "f", "function", "python", "def f(): pass")
    assert a.key() == Chunk("b/c.py", 5, 6, "f", "function", "python", "def f(): pass").key()
    assert a.key() != Chunk("a.py", 1, 2, "f", "function", "python", "def f(): return").key()
