"""Which identifiers are local, per language: the tables structural equivalence
(code/equivalent.py) reads to tell a renamable local from a name that must stay as written.

A scope is a function-like node (function, method, lambda, closure, comprehension). A name is
local when it is bound inside one: a parameter, an assignment or declaration target, a loop
variable, a catch parameter, a pattern binding. Bindings are found from *binders*: a
(node type, field) pair whose child is a binding pattern; inside a pattern every identifier
is bound, except under a field of `PATTERN_SKIP` (a default value, a type) or inside a node of
`PATTERN_STOPS` (`a.b = 1` binds nothing). Block scopes are folded into their function: a
name bound anywhere in a function is local to all of it (Python's rule; for `let` in a JS
block, an approximation)."""

from __future__ import annotations

from dataclasses import dataclass

OUTER = 1  # the binding belongs to the scope around this node (a nested function's name)
DECLARED = 2  # a binding only when the node declares (`for (const x of ..)`, `k := range`)

# Fields of a pattern whose contents are expressions or types, not bindings.
PATTERN_SKIP = frozenset({
    "type", "value", "default", "right", "size", "parameters", "condition", "arguments",
    "function", "object", "operand", "index", "subscript", "attribute", "field", "body",
    "return_type", "superclasses", "decorator", "key", "alternative", "consequence"})
# Nodes that end a pattern: an attribute or index target, a call, a qualified name.
PATTERN_STOPS = frozenset({
    "attribute", "subscript", "call", "member_expression", "subscript_expression",
    "call_expression", "field_expression", "selector_expression", "index_expression",
    "field_access", "array_access", "method_invocation", "scoped_identifier",
    "qualified_identifier", "annotation", "marker_annotation", "decorator"})
# The tokens that declare, for DECLARED binders.
DECLARING = frozenset({"let", "const", "var", ":="})


@dataclass(frozen=True)
class Rules:
    """A language's scoping tables.

    `scopes`: function-like node types; `barriers`: class bodies, whose bindings are
    attributes (never local); `binders`: (node type, field or None for every child) ->
    flags; `exact`: (node type, field or None) under which identifiers are names, not
    variables (attribute and keyword names, imports, qualified paths): compared as written;
    `unbinders`: node types whose names are declared not local (`global`, `nonlocal`);
    `pattern_names`: leaf types that bind inside a pattern but are compared as written (a
    shorthand `{x}` is both the field name and the variable); `ignored`: anonymous tokens
    that are layout (a `;` where a newline does the same); `keep_upper`: a capitalised name
    in a pattern is a constant or variant, not a binding (Rust's `None`)."""

    scopes: frozenset[str]
    binders: dict[tuple[str, str | None], int]
    barriers: frozenset[str] = frozenset()
    exact: frozenset[tuple[str, str | None]] = frozenset()
    unbinders: frozenset[str] = frozenset()
    pattern_names: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    keep_upper: bool = False
    blank: frozenset[str] = frozenset()  # never bound (Go's `_`)


def _s(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _pairs(spec: str) -> frozenset[tuple[str, str | None]]:
    """`"type.field type"` -> {(type, field), (type, None)}."""
    out: set[tuple[str, str | None]] = set()
    for word in spec.split():
        node, _, fld = word.partition(".")
        out.add((node, fld or None))
    return frozenset(out)


def _binders(spec: str, outer: str = "", declared: str = "") -> dict[tuple[str, str | None], int]:
    table = dict.fromkeys(_pairs(spec), 0)
    table.update(dict.fromkeys(_pairs(outer), OUTER))
    table.update(dict.fromkeys(_pairs(declared), DECLARED))
    return table


_JS_SCOPES = _s("function_declaration function_expression function arrow_function "
                "method_definition generator_function_declaration generator_function")
_JS_BINDERS = _binders(
    "formal_parameters variable_declarator.name arrow_function.parameter "
    "catch_clause.parameter class_declaration.name",
    outer="function_declaration.name generator_function_declaration.name",
    declared="for_in_statement.left")
_JS = Rules(_JS_SCOPES, _JS_BINDERS, barriers=_s("class_body"),
            pattern_names=_s("shorthand_property_identifier_pattern"))
_C = Rules(_s("function_definition"),
           _binders("parameter_declaration.declarator declaration.declarator"))

RULES: dict[str, Rules] = {
    "python": Rules(
        _s("function_definition lambda list_comprehension set_comprehension "
           "dictionary_comprehension generator_expression"),
        _binders("parameters lambda_parameters assignment.left augmented_assignment.left "
                 "for_statement.left for_in_clause.left named_expression.name "
                 "as_pattern_target",
                 outer="function_definition.name class_definition.name"),
        barriers=_s("class_definition"),
        exact=_pairs("attribute.attribute keyword_argument.name dotted_name "
                     "aliased_import import_statement import_from_statement"),
        unbinders=_s("global_statement nonlocal_statement"), ignored=_s(";")),
    "javascript": _JS, "typescript": _JS, "tsx": _JS,
    "go": Rules(
        _s("function_declaration method_declaration func_literal"),
        _binders("parameter_declaration.name variadic_parameter_declaration.name "
                 "short_var_declaration.left var_spec.name const_spec.name "
                 "type_switch_statement.alias",
                 declared="range_clause.left receive_statement.left"),
        exact=_pairs("keyed_element.key"), ignored=_s(";"), blank=_s("_")),
    "rust": Rules(
        _s("function_item closure_expression"),
        _binders("parameter.pattern closure_parameters let_declaration.pattern "
                 "for_expression.pattern let_condition.pattern match_arm.pattern",
                 outer="function_item.name"),
        exact=_pairs("scoped_identifier macro_invocation.macro shorthand_field_initializer"),
        pattern_names=_s("shorthand_field_identifier"), keep_upper=True),
    "java": Rules(
        _s("method_declaration constructor_declaration lambda_expression static_initializer "
           "compact_constructor_declaration"),
        _binders("formal_parameter.name variable_declarator.name enhanced_for_statement.name "
                 "resource.name catch_formal_parameter.name instanceof_expression.name "
                 "lambda_expression.parameters inferred_parameters"),
        barriers=_s("class_body interface_body enum_body"),
        exact=_pairs("field_access.field method_invocation.name scoped_identifier "
                     "annotation.name marker_annotation.name")),
    "c": _C,
    "cpp": Rules(_s("function_definition lambda_expression"),
                 {**_C.binders, **_binders("for_range_loop.declarator "
                                           "lambda_capture_initializer.left")},
                 barriers=_s("field_declaration_list"), exact=_pairs("qualified_identifier")),
}
