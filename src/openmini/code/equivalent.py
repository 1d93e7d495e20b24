"""Structural equivalence: do two snippets differ only in layout, comments and a consistent
renaming of local variables? See docs/code.md, "Structural equivalence".

Each tree is flattened, in one cursor walk, into a token list: a node's type when it opens, a
close marker when it ends, `(type, text)` for a leaf. Comments, other extra nodes
(whitespace, line continuations) and a language's layout tokens are left out. A local
identifier (code/scopes.py) becomes `(type, scope, ordinal)`: the scope that binds it, by
its position among the scopes in source order, and the name's rank among that scope's names
by first occurrence. Two snippets are equivalent when their lists are equal: equal ranks
everywhere is a consistent renaming, a bijection per scope. Otherwise the first differing
token is the difference."""

from __future__ import annotations

from typing import Any

from openmini.code.languages import language_for
from openmini.code.parse import Parsed, detect_parse, encode, parse
from openmini.code.scopes import (
    DECLARED,
    DECLARING,
    OUTER,
    PATTERN_SKIP,
    PATTERN_STOPS,
    RULES,
    Rules,
)

_NORMAL, _BIND, _EXACT, _UNBIND = 0, 1, 2, 3
_CLOSE = 0  # a node's end in the token list
_NONE = Rules(frozenset(), {})
_IDENTIFIER = "identifier"  # the one leaf type that names a variable, in every ruled grammar


class _Scope:
    """A function-like scope (`bound`: its local names) or a class body (`bound` None)."""

    __slots__ = ("bound", "excluded", "ordinals", "parent", "serial")

    def __init__(self, parent: _Scope | None, local: bool, serial: int) -> None:
        self.parent = parent
        self.bound: set[bytes] | None = set() if local else None
        self.excluded: set[bytes] = set()  # `global x`, `nonlocal x`
        self.ordinals: dict[bytes, int] = {}
        self.serial = serial

    def owner(self, name: bytes) -> _Scope | None:
        """The innermost function scope, from this one outwards, where `name` is local."""
        scope: _Scope | None = self
        while scope is not None:
            if scope.bound is not None and name in scope.bound and name not in scope.excluded:
                return scope
            scope = scope.parent
        return None


def _declares(node: Any) -> bool:
    return any(child.type in DECLARING for child in node.children)


def tokens(parsed: Parsed) -> tuple[list[Any], list[Any]]:
    """The token list of a parse and, for each token, its node (a close marker's: the node
    that ends)."""
    rules = RULES.get(parsed.language.grammar, _NONE)
    renaming = rules is not _NONE
    scopes, barriers, binders, exact = rules.scopes, rules.barriers, rules.binders, rules.exact
    unbinders, pattern_names, ignored = rules.unbinders, rules.pattern_names, rules.ignored
    blank = {name.encode() for name in rules.blank}
    keep_upper = rules.keep_upper
    src = parsed.source
    out: list[Any] = []
    nodes: list[Any] = []
    deferred: list[tuple[int, _Scope, bytes]] = []  # identifiers, resolved at the end
    serial = 0
    # The state children see: (scope, mode, binding scope, parent type, parent node).
    parent: tuple[_Scope, int, _Scope | None, str, Any] = (
        _Scope(None, False, 0), _NORMAL, None, "", None)
    stack: list[tuple[_Scope, int, _Scope | None, str, Any]] = []
    root = parsed.tree.root_node
    if root.child_count == 0:  # empty: as when its only children are comments
        return [root.type, _CLOSE], [root, root]
    cursor = parsed.tree.walk()
    while True:
        node = cursor.node
        kind = node.type
        if not (node.is_extra or "comment" in kind or kind in ignored):
            scope, mode, bind, ptype, pnode = parent
            if mode != _EXACT:
                field = cursor.field_name
                if mode != _BIND or field in PATTERN_SKIP or kind in PATTERN_STOPS:
                    mode, bind = _NORMAL, None
                    flags = binders.get((ptype, field))
                    if flags is None:
                        flags = binders.get((ptype, None))
                    if flags is not None:
                        if not flags & DECLARED or _declares(pnode):
                            mode, bind = _BIND, scope.parent if flags & OUTER else scope
                    elif (ptype, field) in exact or (ptype, None) in exact:
                        mode = _EXACT
                    elif ptype in unbinders:
                        mode = _UNBIND
            if node.child_count == 0:
                text = src[node.start_byte:node.end_byte]
                if kind == _IDENTIFIER and renaming and mode != _EXACT:
                    if mode == _UNBIND:
                        scope.excluded.add(text)
                    elif mode != _BIND:
                        deferred.append((len(out), scope, text))
                    elif (bind is not None and bind.bound is not None and text not in blank
                          and not (keep_upper and text[:1].isupper())):
                        bind.bound.add(text)
                        deferred.append((len(out), bind, text))
                elif mode == _BIND and kind in pattern_names and bind and bind.bound is not None:
                    bind.bound.add(text)  # bound, but compared as written
                out.append((kind, text))
                nodes.append(node)
            else:
                out.append(kind)
                nodes.append(node)
                if kind in scopes or kind in barriers:
                    serial += 1
                    scope = _Scope(scope, kind in scopes, serial)
                stack.append(parent)
                parent = (scope, mode, bind, kind, node)
                cursor.goto_first_child()
                continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                for index, scope, name in deferred:
                    owner = scope.owner(name)
                    if owner is not None:
                        rank = owner.ordinals.setdefault(name, len(owner.ordinals))
                        out[index] = (_IDENTIFIER, owner.serial, rank)
                return out, nodes
            out.append(_CLOSE)
            nodes.append(parent[4])
            parent = stack.pop()


def _subtree_end(toks: list[Any], i: int) -> int:
    """The index after the node that starts at `i` (a leaf: i + 1)."""
    depth = 0
    for k in range(i, len(toks)):
        tok = toks[k]
        if isinstance(tok, str):
            depth += 1
        elif tok == _CLOSE:
            depth -= 1
        if depth <= 0:
            return k + 1
    return len(toks)


def _parent_end(toks: list[Any], i: int) -> int:
    """The index of the close marker of the node around `i`."""
    depth = 0
    for k in range(i, len(toks)):
        tok = toks[k]
        if isinstance(tok, str):
            depth += 1
        elif tok == _CLOSE:
            if depth == 0:
                return k
            depth -= 1
    return len(toks)


def _point(src: bytes, byte: int, point: tuple[int, int]) -> dict[str, int]:
    """A 1-based {"line", "column"}; the column counts characters."""
    row, col = point
    return {"line": row + 1, "column": len(src[byte - col:byte].decode("utf-8", "replace")) + 1}


def _range(src: bytes, node: Any, at_end: bool = False, empty: bool = False) -> dict[str, Any]:
    """A node's range; `empty`: zero-width at its start (or its end with `at_end`)."""
    start = _point(src, node.start_byte, node.start_point)
    end = _point(src, node.end_byte, node.end_point)
    if at_end:
        return {"start": end, "end": end}
    return {"start": start, "end": start if empty else end}


def _difference(pa: Parsed, pb: Parsed, ta: list[Any], na: list[Any], tb: list[Any],
                nb: list[Any]) -> dict[str, Any]:
    n = min(len(ta), len(tb))
    i = next((k for k in range(n) if ta[k] != tb[k]), n - 1)
    x, y = ta[i], tb[i]
    sa, sb = pa.source, pb.source

    def missing(extra_a: bool) -> dict[str, Any]:
        ra = _range(sa, na[i]) if extra_a else _range(sa, na[i], x == _CLOSE, True)
        rb = _range(sb, nb[i], y == _CLOSE, True) if extra_a else _range(sb, nb[i])
        return {"kind": "missing", "a": ra, "b": rb}

    if y == _CLOSE:
        return missing(True)
    if x == _CLOSE:
        return missing(False)
    end_a, end_b = _parent_end(ta, i), _parent_end(tb, i)
    if ta[_subtree_end(ta, i):end_a] == tb[i:end_b]:
        return missing(True)
    if tb[_subtree_end(tb, i):end_b] == ta[i:end_a]:
        return missing(False)
    if isinstance(x, tuple) and isinstance(y, tuple):
        if _IDENTIFIER in x[0] and _IDENTIFIER in y[0]:
            kind = "rename"
        elif x[0] == y[0] or not (na[i].is_named or nb[i].is_named):
            kind = "text"
        else:
            kind = "node"
    else:
        kind = "node"
    return {"kind": kind, "a": _range(sa, na[i]), "b": _range(sb, nb[i])}


def _first_error(parsed: Parsed) -> dict[str, Any]:
    """The range of a parse's first ERROR or MISSING node (its first diagnostic), or
    zero-width at its start when it has none."""
    node = parsed.tree.root_node
    if not node.has_error:
        start = {"line": 1, "column": 1}
        return {"start": start, "end": start}
    while not (node.is_error or node.is_missing):
        child = next((c for c in node.children if c.is_missing or c.has_error), None)
        if child is None:
            break
        node = child
    return _range(parsed.source, node)


def compare(pa: Parsed, pb: Parsed) -> dict[str, Any]:
    """`{"equivalent", "difference"}` of two parses in the same language."""
    if not (pa.ok and pb.ok):
        return {"equivalent": False, "difference": {
            "kind": "syntax", "a": _first_error(pa), "b": _first_error(pb)}}
    ta, na = tokens(pa)
    tb, nb = tokens(pb)
    if ta == tb:
        return {"equivalent": True, "difference": None}
    return {"equivalent": False, "difference": _difference(pa, pb, ta, na, tb, nb)}


def equivalent(a: str, b: str, language: str | None = None) -> dict[str, Any]:
    """Whether `a` and `b` differ only in layout, comments and a consistent renaming of
    locals: `{"equivalent": bool, "difference": None | {"kind", "a", "b"}}`, the first
    difference in source order, each side a range of 1-based `{"line", "column"}` points
    (columns in characters). The language: given, else detected from `a` (`b` is parsed in
    the same one). A snippet that is not text or is over 1 MB, or an unknown language: a 400
    naming the field (`a`, `b`, `language`)."""
    if language is not None:
        lang = language_for(language)
        pa = parse(a, lang, param="a")
    else:
        encode(a, param="a")
        pa = detect_parse(a)
        lang = pa.language
    return compare(pa, parse(b, lang, param="b"))
