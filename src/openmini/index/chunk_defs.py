"""Chunks by definition, from a tree-sitter parse and code/outline.py's definitions.

- A function (or a method, a struct, an enum, ...) is one chunk, with what stands right
  before it: decorators, attributes, its doc comment, `export`. Its docstring is in it.
  Functions defined inside a function stay in that function's chunk.
- A container (class, struct, interface, trait, impl, enum, module) whose members are
  definitions with bodies is one chunk of its own text with each such member reduced to
  its signature (`def method(self, x): ...`); each member is then a chunk of its own, named
  with its enclosing names (`Outer.Inner.method`).
- A chunk over the size budget is cut at statement boundaries (the top-level children of
  its body) into parts; each part after the first begins with the definition's signature.
  A single statement over the budget is cut into line windows (with the signature too).
- Module-level code between definitions (imports, constants, a script's statements) is
  chunked too, kind "code", in line windows when long.
- A parse where syntax errors cover more than a third of the bytes is no guide: the caller
  falls back to line windows (`None`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openmini.code.languages import Language, parser
from openmini.code.outline import Definition, definitions
from openmini.code.parse import Parsed
from openmini.index.chunk import Chunk, ChunkSettings, Lines, windows

CONTAINERS = frozenset({"class", "struct", "interface", "trait", "impl", "enum", "module"})
# Nodes that wrap a definition and belong to it (`@decorator`, `export`, Go's `type`).
_WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration",
                       "type_declaration"})
# Nodes right before a definition that belong to it: doc comments, attributes, annotations.
_LEADING = frozenset({"comment", "line_comment", "block_comment", "attribute_item",
                      "decorator", "annotation", "marker_annotation", "attribute"})
_BLOCK_LISTS = frozenset({"statement_list", "body_statement"})
MAX_ERROR_SHARE = 1 / 3


@dataclass(slots=True)
class _Def:
    d: Definition
    first: int  # first row, leading comments and decorators included
    last: int  # last row
    symbol: str
    children: list[_Def]


def definition_chunks(path: str, text: str, language: Language,
                      settings: ChunkSettings) -> list[Chunk] | None:
    """The chunks of a file by definition; None when the parse is too broken to use."""
    source = text.encode("utf-8", "surrogatepass")
    try:
        tree = parser(language).parse(source)
    except Exception:  # a grammar the pack cannot load: windows instead
        return None
    if _error_share(tree, len(source)) > MAX_ERROR_SHARE:
        return None
    lines = Lines(text)
    cutter = _Cutter(path, language.name, lines, source, settings)
    top = _tree(definitions(Parsed(language, tree, source, [])), source, lines)
    for item in top:
        cutter.definition(item)
    cutter.gaps(top)
    return sorted(cutter.out, key=lambda c: (c.start_line, c.end_line))


def _error_share(tree: Any, size: int) -> float:
    """The share of the source's bytes inside ERROR nodes (0 for a clean parse)."""
    root = tree.root_node
    if not root.has_error or size == 0:
        return 0.0
    broken, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            broken += node.end_byte - node.start_byte
        elif node.has_error:
            stack.extend(node.children)
    return broken / size


def _tree(defs: list[Definition], source: bytes, lines: Lines) -> list[_Def]:
    """The definitions that become chunks, nested: top-level ones, and members of
    containers that are chunks themselves (not functions inside functions)."""
    top: list[_Def] = []
    stack: list[tuple[int, _Def | None]] = []  # (end byte, chunked definition or None)
    for d in defs:
        node = d.node
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        parent = stack[-1][1] if stack else None
        chunked = not stack or (parent is not None and parent.d.kind in CONTAINERS
                                and _first_row(node, source) > parent.d.node.start_point[0]
                                and _has_body(node))
        item = _Def(d, _first_row(node, source), _last_row(node),
                    ".".join((*d.scope, d.name)), []) if chunked else None
        if item is not None:
            (parent.children if parent is not None else top).append(item)
        stack.append((node.end_byte, item))
    return top


def _outer(node: Any) -> Any:
    """The node with the wrappers that belong to it (`@decorator`, `export`)."""
    while node.parent is not None and node.parent.type in _WRAPPERS and sum(
            c.type == node.type for c in node.parent.named_children) == 1:
        node = node.parent
    return node


def _first_row(node: Any, source: bytes) -> int:
    """The definition's first row, its wrappers and the comments and attributes right
    above it (each starting its own line, no blank line between) included."""
    node = _outer(node)
    row = node.start_point[0]
    prev = node.prev_named_sibling
    while (prev is not None and prev.type in _LEADING and prev.end_point[0] >= row - 1
           and _starts_line(prev, source)):
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    return row


def _starts_line(node: Any, source: bytes) -> bool:
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    return not source[start:node.start_byte].strip()


def _last_row(node: Any) -> int:
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


def _body(node: Any) -> Any:
    return node.child_by_field_name("body")


def _has_body(node: Any) -> bool:
    """A member with a body, or at least more than one line (not `void g();`)."""
    return _body(node) is not None or _last_row(node) > node.start_point[0]


def _signature(node: Any, source: bytes) -> str:
    """A definition's signature lines: from its line's start to its body's start (with the
    body's opening brace); the first line when it has no body."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    body = _body(node)
    if body is None:
        end = source.find(b"\n", node.start_byte)
        return source[start:end if end >= 0 else node.end_byte].decode("utf-8", "replace")
    head = source[start:body.start_byte].decode("utf-8", "replace").rstrip()
    return head + " {" if source[body.start_byte:body.start_byte + 1] == b"{" else head


class _Cutter:
    """Turns definitions into chunks (appended to `out`)."""

    def __init__(self, path: str, language: str, lines: Lines, source: bytes,
                 settings: ChunkSettings):
        self.path, self.language, self.lines = path, language, lines
        self.source, self.settings = source, settings
        self.out: list[Chunk] = []

    def _fits(self, first: int, last: int, extra: int = 0) -> bool:
        s = self.settings
        return (self.lines.chars(first, last) + extra <= s.max_chars
                and last - first + 1 <= s.max_lines)

    def _add(self, first: int, last: int, item: _Def | None, text: str, kind: str) -> None:
        self.out.append(Chunk(self.path, first + 1, last + 1, item.symbol if item else None,
                              kind, self.language, text))

    def definition(self, item: _Def) -> None:
        if item.children:
            self._summary(item)
            for child in item.children:
                self.definition(child)
        elif self._fits(item.first, item.last):
            self._add(item.first, item.last, item, self.lines.text(item.first, item.last),
                      item.d.kind)
        else:
            self._parts(item)

    def _summary(self, item: _Def) -> None:
        """The container with its members' bodies left out; cut in windows when long."""
        rows: list[str] = []
        row = item.first
        for child in item.children:
            rows.extend(self.lines.lines[row:child.first])
            signature = _signature(child.d.node, self.source)
            rows.append(signature + (" ... }" if signature.endswith("{") else " ..."))
            row = child.last + 1
        rows.extend(self.lines.lines[row:item.last + 1])
        text = "\n".join(rows)
        if len(text) <= self.settings.max_chars:
            self._add(item.first, item.last, item, text, item.d.kind)
            return
        summary = Lines(text)
        header = summary.lines[0]
        for _, _, body in windows(summary, 1, len(summary) - 1, self.settings, header):
            self._add(item.first, item.last, item, body, item.d.kind)

    def _parts(self, item: _Def) -> None:
        """A long definition cut at statement boundaries."""
        node = item.d.node
        statements = _statements(node)
        header = _signature(node, self.source)
        extra = len(header) + 1
        start = item.first
        for statement in statements:
            first, last = statement.start_point[0], _last_row(statement)
            if first <= start or self._fits(start, last, extra if start > item.first else 0):
                continue
            self._part(item, start, first - 1, header)
            start = first
            if not self._fits(first, last, extra):  # one statement over the budget
                for a, b, body in windows(self.lines, first, last, self.settings, header):
                    self._add(a, b, item, body, item.d.kind)
                start = last + 1
        if start <= item.last:
            self._part(item, start, item.last, header)

    def _part(self, item: _Def, first: int, last: int, header: str) -> None:
        if last < first or self.lines.blank(first, last):
            return
        if not self._fits(first, last, len(header) + 1 if first > item.first else 0):
            prefix = header if first > item.first else None
            for a, b, body in windows(self.lines, first, last, self.settings, prefix):
                self._add(a, b, item, body, item.d.kind)
            return
        text = self.lines.text(first, last)
        if first > item.first:
            text = f"{header}\n{text}"
        self._add(first, last, item, text, item.d.kind)

    def gaps(self, top: list[_Def]) -> None:
        """Module-level code: the rows no top-level definition covers."""
        covered = [False] * len(self.lines)
        for item in top:
            for row in range(item.first, min(item.last, len(covered) - 1) + 1):
                covered[row] = True
        row = 0
        while row < len(covered):
            if covered[row]:
                row += 1
                continue
            end = row
            while end + 1 < len(covered) and not covered[end + 1]:
                end += 1
            self._gap(row, end)
            row = end + 1

    def _gap(self, first: int, last: int) -> None:
        while first <= last and not self.lines.lines[first].strip():
            first += 1
        while last >= first and not self.lines.lines[last].strip():
            last -= 1
        if first <= last and not self.lines.blank(first, last):
            for a, b, body in windows(self.lines, first, last, self.settings):
                self._add(a, b, None, body, "code")


def _statements(node: Any) -> list[Any]:
    """The top-level statements of a definition's body (Go's and Ruby's wrapped list
    unwrapped)."""
    body = _body(node)
    if body is None:
        return []
    children = list(body.named_children)
    if len(children) == 1 and children[0].type in _BLOCK_LISTS:
        children = list(children[0].named_children)
    return children
