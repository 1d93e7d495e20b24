"""What a request constrains its output to, and how each kind becomes an llguidance grammar.

Kinds register in GRAMMARS (no if/elif on kind names). Grammars are strings; compiling them
against a tokenizer happens in `compiler.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from openmini.registry import Registry

# JSON is generated the way json.dumps writes it: fixed separators and no free whitespace, so
# a small model cannot wander into endless newlines between tokens.
JSON_STYLE: dict[str, Any] = {"whitespace_flexible": False, "item_separator": ", ",
                              "key_separator": ": "}


@dataclass(frozen=True, slots=True)
class Constraint:
    """One output constraint. `spec` is canonical text (JSON for schemas and choices), so equal
    constraints hash equal and share a compiled grammar. `param` names the request field it
    came from, for error messages."""

    kind: str
    spec: str
    param: str

    @staticmethod
    def json_schema(schema: Any, param: str) -> Constraint:
        return Constraint("json_schema", json.dumps(schema), param)  # key order = generation order

    @staticmethod
    def json_object(param: str) -> Constraint:
        return Constraint("json_schema", json.dumps({"type": "object"}), param)

    @staticmethod
    def regex(pattern: str, param: str) -> Constraint:
        return Constraint("regex", pattern, param)

    @staticmethod
    def choice(options: list[str], param: str) -> Constraint:
        return Constraint("choice", json.dumps(list(options)), param)

    @staticmethod
    def grammar(lark: str, param: str) -> Constraint:
        return Constraint("grammar", lark, param)


GRAMMARS: Registry[str] = Registry("grammar kind")  # kind -> builder(spec) -> grammar


def _json_schema(spec: str) -> str:
    from llguidance import LLMatcher

    from openmini.decoding.schema_rewrite import rewrite

    schema = rewrite(json.loads(spec))  # what llguidance lacks, said in what it has
    return str(LLMatcher.grammar_from_json_schema(schema, defaults=JSON_STYLE))  # type: ignore[arg-type]


def _regex(spec: str) -> str:
    from llguidance import LLMatcher

    return str(LLMatcher.grammar_from_regex(spec))


def _choice(spec: str) -> str:
    import re

    from llguidance import LLMatcher

    # one regex lexeme: a long list as lark alternatives is slow to compile (llguidance notes)
    options = json.loads(spec)
    return str(LLMatcher.grammar_from_regex("|".join(re.escape(o) for o in options)))


def _grammar(spec: str) -> str:
    return spec


GRAMMARS.register("json_schema", _json_schema)
GRAMMARS.register("regex", _regex)
GRAMMARS.register("choice", _choice)
GRAMMARS.register("grammar", _grammar)


def grammar_of(constraint: Constraint) -> str:
    return GRAMMARS.create(constraint.kind, constraint.spec)


def compose(top: str, parts: dict[str, Constraint]) -> str:
    """One grammar: the lark `top`, which refers to each part as `@name`, and the parts'
    grammars under those names (llguidance's multi-grammar JSON form)."""
    grammars: list[dict[str, Any]] = [{"lark_grammar": top}]
    for name, part in parts.items():
        grammars += _named(grammar_of(part), name)
    return json.dumps({"grammars": grammars})


def _named(grammar: str, name: str) -> list[dict[str, Any]]:
    """A grammar (lark text, or llguidance's JSON form) with its start grammar named."""
    if grammar.lstrip().startswith("{"):
        first, *rest = json.loads(grammar)["grammars"]
        return [{**first, "name": name}, *rest]
    return [{"name": name, "lark_grammar": grammar}]
GRAMMARS.register("tool_calls", "openmini.tools.grammar:build")
GRAMMARS.register("thinking", "openmini.reasoning.grammar:build")
