"""Constraints compile once, are cached, and bad or unenforceable ones are 400s naming the param."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint, grammar_of
from openmini.decoding.processor import GrammarProcessor
from openmini.engine.sampling import Sampler
from openmini.errors import InvalidRequest
from openmini.types import SamplingParams

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                                           "age": {"type": "integer", "minimum": 0,
                                                   "maximum": 150}},
          "required": ["name", "age"], "additionalProperties": False}


def generate(compiler: GrammarCompiler, constraint: Constraint, seed: int,
             limit: int = 120) -> str:
    """Sample from random logits under the grammar: only the mask makes the output valid."""
    tok = compiler.tokenizer
    proc = GrammarProcessor(compiler.matcher(constraint), tok.vocab_size)
    sampler = Sampler(SamplingParams(temperature=1.0), tok.vocab_size, processors=[proc],
                      seed=seed)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(limit):
        draw = sampler.sample(rng.standard_normal(tok.vocab_size).astype(np.float32))
        if draw.token == tok.eos_token:
            break
        sampler.accept(draw.token)
        out.append(draw.token)
        if sampler.finished():
            break
    return str(tok.decode_str(out))


@pytest.mark.parametrize("seed", range(5))
def test_json_schema_output_always_validates(compiler: GrammarCompiler, seed: int) -> None:
    from jsonschema import validate

    text = generate(compiler, Constraint.json_schema(SCHEMA, "p"), seed)
    validate(json.loads(text), SCHEMA)
    assert ", " in text and ": " in text  # json.dumps style separators, no free whitespace


def test_regex_and_choice(compiler: GrammarCompiler) -> None:
    import re

    for seed in range(3):
        assert re.fullmatch(r"[0-9]{3}-[a-z]{2}",
                            generate(compiler, Constraint.regex(r"[0-9]{3}-[a-z]{2}", "p"),
                                     seed))
        assert generate(compiler, Constraint.choice(["red", "green", "blue"], "p"),
                        seed) in {"red", "green", "blue"}


def test_lark_grammar(compiler: GrammarCompiler) -> None:
    lark = 'start: "yes" | "no" | NUM\nNUM: /[1-9][0-9]{0,2}/'
    for seed in range(3):
        out = generate(compiler, Constraint.grammar(lark, "p"), seed)
        assert out in {"yes", "no"} or (out.isdigit() and len(out) <= 3)


def test_compiled_once_then_cached(compiler: GrammarCompiler) -> None:
    c = Constraint.json_schema(SCHEMA, "p")
    compiler.matcher(c)
    compiler.matcher(Constraint.json_schema(json.loads(json.dumps(SCHEMA)), "p"))
    assert compiler.compiled == 1
    for i in range(5):  # capacity 4: the LRU evicts
        compiler.matcher(Constraint.regex(f"a{{{i + 1}}}", "p"))
    compiler.matcher(c)
    assert compiler.compiled == 7


@pytest.mark.parametrize(("constraint", "fragment"), [
    (Constraint.regex("[0-9", "structured_outputs.regex"), "regular expression"),
    (Constraint.grammar("start: foo", "structured_outputs.grammar"), "grammar"),
    (Constraint.json_schema({"type": "strin"}, "response_format.json_schema.schema"),
     "JSON schema"),
])
def test_invalid_constraints_name_the_parameter(compiler: GrammarCompiler,
                                                constraint: Constraint, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        compiler.matcher(constraint)
    assert err.value.param == constraint.param
    assert fragment in err.value.message


def test_unenforceable_keyword_is_refused_not_ignored(compiler: GrammarCompiler) -> None:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    with pytest.raises(InvalidRequest) as err:
        compiler.matcher(Constraint.json_schema(schema, "response_format.json_schema.schema"))
    assert "uniqueItems" in err.value.message
    assert "cannot enforce" in err.value.message


@pytest.mark.parametrize(("schema", "keyword"), [
    ({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}, "oneOf"),
    ({"type": "object", "properties": {"a": {"type": "integer"}}, "maxProperties": 1},
     "maxProperties"),
])
def test_refused_features_are_not_called_invalid(compiler: GrammarCompiler,
                                                 schema: dict[str, Any], keyword: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        compiler.matcher(Constraint.json_schema(schema, "response_format.json_schema.schema"))
    assert "cannot enforce" in err.value.message and keyword in err.value.message
    assert not err.value.message.startswith("Invalid")


def test_grammar_text_is_built_per_kind() -> None:
    assert "lark" in grammar_of(Constraint.regex("a+", "p"))
    assert grammar_of(Constraint.grammar("start: \"x\"", "p")) == 'start: "x"'
    assert "json_schema" in grammar_of(Constraint.json_object("p"))
