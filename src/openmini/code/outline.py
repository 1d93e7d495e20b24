"""Outlines: the symbols a file defines (functions, methods, classes, ...), from its tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openmini.code.languages import Language
from openmini.code.parse import Parsed, detect_parse, parse

_F, _C = "function", "class"
_JS = {"function_declaration": _F, "generator_function_declaration": _F,
       "class_declaration": _C, "abstract_class_declaration": _C, "method_definition": "method",
       "interface_declaration": "interface", "enum_declaration": "enum",
       "type_alias_declaration": "type", "internal_module": "module", "module": "module"}
_C_FAMILY = {"function_definition": _F, "struct_specifier": "struct", "enum_specifier": "enum",
             "union_specifier": "struct", "type_definition": "type"}
# Node type -> kind, per grammar. A `class` node's kind is refined by the keyword before its
# name (Kotlin's and Swift's class_declaration covers interface, enum, struct, extension).
KINDS: dict[str, dict[str, str]] = {
    "python": {"function_definition": _F, "class_definition": _C},
    "javascript": _JS, "typescript": _JS, "tsx": _JS,
    "go": {"function_declaration": _F, "method_declaration": "method", "type_spec": "type"},
    "rust": {"function_item": _F, "function_signature_item": _F, "struct_item": "struct",
             "enum_item": "enum", "union_item": "struct", "trait_item": "trait",
             "impl_item": "impl", "mod_item": "module", "type_item": "type"},
    "java": {"class_declaration": _C, "interface_declaration": "interface",
             "enum_declaration": "enum", "record_declaration": _C,
             "annotation_type_declaration": "interface", "method_declaration": _F,
             "constructor_declaration": _F},
    "c": _C_FAMILY,
    "cpp": {**_C_FAMILY, "class_specifier": _C, "namespace_definition": "module"},
    "csharp": {"class_declaration": _C, "interface_declaration": "interface",
               "struct_declaration": "struct", "enum_declaration": "enum",
               "record_declaration": _C, "namespace_declaration": "module",
               "file_scoped_namespace_declaration": "module", "method_declaration": _F,
               "constructor_declaration": _F, "local_function_statement": _F},
    "ruby": {"method": _F, "singleton_method": _F, "class": _C, "module": "module"},
    "php": {"function_definition": _F, "method_declaration": _F, "class_declaration": _C,
            "interface_declaration": "interface", "trait_declaration": "trait",
            "enum_declaration": "enum", "namespace_definition": "module"},
    "kotlin": {"function_declaration": _F, "class_declaration": _C, "object_declaration": _C,
               "type_alias": "type"},
    "swift": {"function_declaration": _F, "class_declaration": _C, "init_declaration": _F,
              "protocol_declaration": "interface", "typealias_declaration": "type"},
}
_CONTAINERS = {"class", "struct", "impl", "trait", "interface", "enum"}
_NAME_TYPES = {"identifier", "type_identifier", "simple_identifier", "constant", "name",
               "field_identifier", "property_identifier", "scope_resolution"}
_KEYWORDS = {"interface": "interface", "protocol": "interface", "enum": "enum",
             "struct": "struct", "extension": "impl", "object": "class"}
_GO_TYPES = {"struct_type": "struct", "interface_type": "interface"}


def _text(node: Any, source: bytes) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _declarator_name(node: Any) -> Any:
    """C and C++: the name inside a (function, pointer, reference) declarator chain."""
    while node is not None and node.child_by_field_name("declarator") is not None:
        node = node.child_by_field_name("declarator")
    return node


def _name_node(node: Any, grammar: str) -> Any:
    if grammar == "rust" and node.type == "impl_item":
        return node.child_by_field_name("type")
    if grammar in ("c", "cpp") and node.type in ("function_definition", "type_definition"):
        return _declarator_name(node)
    name = node.child_by_field_name("name")
    if name is not None:
        return name
    return next((c for c in node.named_children if c.type in _NAME_TYPES), None)


def _kind(node: Any, kind: str, name: Any, grammar: str, source: bytes) -> str:
    if grammar == "go" and node.type == "type_spec":
        value = node.child_by_field_name("type")
        return _GO_TYPES.get(value.type, "type") if value is not None else "type"
    if kind == _C and grammar in ("kotlin", "swift"):
        head = source[node.start_byte:name.start_byte].decode("utf-8", "replace").split()
        return next((_KEYWORDS[w] for w in head if w in _KEYWORDS), kind)
    return kind


def _point(point: tuple[int, int]) -> dict[str, int]:
    return {"line": point[0] + 1, "column": point[1] + 1}


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition in a parse: its tree-sitter node, name, kind, the enclosing symbol's
    name (`parent`) and the names of every enclosing symbol, outermost first (`scope`)."""

    node: Any
    name: str
    kind: str
    parent: str | None
    scope: tuple[str, ...]


def definitions(parsed: Parsed) -> list[Definition]:
    """The definitions of a parse, in source order (outer before inner). A function
    directly inside a class, struct, impl, trait, interface or enum is a method; a Go
    method's parent is its receiver's type. The definitions are found by a tree-sitter
    query (in C); only they become Python nodes."""
    grammar = parsed.language.grammar
    table = KINDS.get(grammar)
    if table is None:
        return []
    out: list[Definition] = []
    open_: list[tuple[int, str, str, tuple[str, ...]]] = []  # (end byte, name, kind, scope)
    for node in _definitions(parsed.tree, grammar, table):
        while open_ and open_[-1][0] <= node.start_byte:
            open_.pop()
        parent = open_[-1] if open_ else None
        name_node = _name_node(node, grammar)
        if name_node is None:
            continue
        kind = _kind(node, table[node.type], name_node, grammar, parsed.source)
        name = _text(name_node, parsed.source)
        parent_name = parent[1] if parent else None
        scope = (*parent[3], parent[1]) if parent else ()
        if kind == _F and parent and parent[2] in _CONTAINERS:
            kind = "method"
        if grammar == "go" and node.type == "method_declaration":
            parent_name = _go_receiver(node, parsed.source)
            scope = (parent_name,) if parent_name else ()
        out.append(Definition(node, name, kind, parent_name, scope))
        open_.append((node.end_byte, name, kind, scope))
    return out


def symbols(parsed: Parsed) -> list[dict[str, Any]]:
    """The symbols of a parse (`definitions`), in source order, as dicts; `parent`: the
    enclosing symbol's name."""
    return [{"kind": d.kind, "name": d.name, "start": _point(d.node.start_point),
             "end": _point(d.node.end_point), "parent": d.parent} for d in definitions(parsed)]


_QUERIES: dict[str, Any] = {}


def _definitions(tree: Any, grammar: str, table: dict[str, str]) -> list[Any]:
    """The nodes of `table`'s types, outer before inner, in source order."""
    query = _QUERIES.get(grammar)
    if query is None:
        from tree_sitter import Query

        language = tree.language
        kinds = [t for t in table if language.id_for_node_kind(t, True)]
        query = _QUERIES[grammar] = Query(language, "[" + " ".join(f"({t})" for t in kinds)
                                          + "] @definition")
    from tree_sitter import QueryCursor

    nodes = QueryCursor(query).captures(tree.root_node).get("definition", [])
    return sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte))


def _go_receiver(node: Any, source: bytes) -> str | None:
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return None
    types = [c for c in _walk(receiver) if c.type == "type_identifier"]
    return _text(types[0], source) if types else None


def _walk(node: Any) -> list[Any]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(n.named_children))
    return out


def outline(code: str, language: Language | str | None = None) -> dict[str, Any]:
    """`{"language", "symbols", "diagnostics"}` of a snippet; the language detected when
    not given (parse.detect_parse). Symbols' columns are tree-sitter's byte columns plus one;
    diagnostics' columns count characters."""
    parsed = detect_parse(code) if language is None else parse(code, language)
    return {"language": parsed.language.name, "symbols": symbols(parsed),
            "diagnostics": parsed.diagnostics}
