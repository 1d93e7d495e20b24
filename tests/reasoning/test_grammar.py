"""The grammar of a thinking answer (reasoning/grammar.py), compiled with llguidance over the
`tiny` vocabulary and driven token by token."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint, grammar_of
from openmini.decoding.processor import GrammarProcessor
from openmini.engine.sampling import Sampler
from openmini.reasoning.budget import thinkings
from openmini.reasoning.format import CLOSE, ThinkFormat
from openmini.reasoning.grammar import ANSWER_PARAM, build, thinking_constraint
from openmini.types import SamplingParams

pytestmark = pytest.mark.model

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0,
                                                   "maximum": 150}},
          "required": ["name", "age"], "additionalProperties": False}
PLAIN = ThinkFormat()
NATIVE_ID = 3  # a special token of the tiny vocab (<repo_name>), standing in for </think>
NATIVE = ThinkFormat(open_id=1, close_id=NATIVE_ID)

ANSWERS: dict[str, Constraint | None] = {
    "free": None,
    "json_schema": Constraint.json_schema(SCHEMA, "response_format.json_schema.schema"),
    "json_object": Constraint.json_object("response_format"),
    "regex": Constraint.regex(r"[0-9]{1,3}", "structured_outputs.regex"),
    "choice": Constraint.choice(["yes", "no"], "structured_outputs.choice"),
    "grammar": Constraint.grammar('start: "yes" | "no" | NUM\nNUM: /[1-9][0-9]?/',
                                  "structured_outputs.grammar"),
}


def matcher(compiler: GrammarCompiler, fmt: ThinkFormat, answer: Constraint | None) -> Any:
    return compiler.matcher(thinking_constraint(fmt, answer))


def feed(m: Any, tokenizer: Any, *parts: str | int) -> bool:
    """Consume text (tokenized) and raw token ids in order; False at the first rejection."""
    for part in parts:
        ids = [part] if isinstance(part, int) else tokenizer.tokenize_str(part)
        for t in ids:
            if not m.consume_token(t):
                return False
    return True


def allowed(m: Any, token: int) -> bool:
    bits = np.unpackbits(np.frombuffer(m.compute_bitmask(), dtype=np.uint8), bitorder="little")
    return bool(bits[token])


def accepts(compiler: GrammarCompiler, tokenizer: Any, fmt: ThinkFormat,
            answer: Constraint | None, *parts: str | int) -> bool:
    m = matcher(compiler, fmt, answer)
    return feed(m, tokenizer, *parts) and bool(m.is_accepting()) and allowed(
        m, tokenizer.eos_token)


# --- the constraint ---------------------------------------------------------------------------

def test_the_constraint_is_canonical_and_names_the_answers_param() -> None:
    json_answer = ANSWERS["json_schema"]
    assert json_answer is not None
    c = thinking_constraint(PLAIN, json_answer)
    assert c.kind == "thinking"
    assert c.param == json_answer.param
    assert c == thinking_constraint(ThinkFormat(), Constraint.json_schema(SCHEMA, c.param))
    assert c != thinking_constraint(NATIVE, json_answer)
    free = thinking_constraint(PLAIN, None)
    assert free.param == ANSWER_PARAM == "reasoning_effort"
    assert json.loads(free.spec) == {"close": None, "answer": None}
    assert json.loads(thinking_constraint(NATIVE, None).spec)["close"] == NATIVE_ID


def test_build_is_the_registered_thinking_kind() -> None:
    c = thinking_constraint(PLAIN, ANSWERS["regex"])
    assert grammar_of(c) == build(c.spec)
    assert CLOSE in build(c.spec)
    assert f"<[{NATIVE_ID}]>" in build(thinking_constraint(NATIVE, None).spec)


@pytest.mark.parametrize("fmt", [PLAIN, NATIVE], ids=["plain", "native"])
@pytest.mark.parametrize("kind", list(ANSWERS))
def test_it_compiles(compiler: GrammarCompiler, fmt: ThinkFormat, kind: str) -> None:
    m = matcher(compiler, fmt, ANSWERS[kind])
    assert not m.is_error()
    assert not m.is_accepting()  # the block is open: nothing can end yet


# --- plain-text tags --------------------------------------------------------------------------

def test_thinking_then_the_tag_then_a_valid_json_answer(compiler: GrammarCompiler,
                                                        tokenizer: Any) -> None:
    answer = ANSWERS["json_schema"]
    for text in ['Let me think.\nShe is 30.</think>\n{"name": "Ann", "age": 30}',
                 '</think>{"name": "Bo", "age": 1}',
                 'a {"name": "x"} in thought</think>\n\n{"name": "Cy", "age": 150}']:
        assert accepts(compiler, tokenizer, PLAIN, answer, text), text


def test_the_answer_is_checked_token_by_token(compiler: GrammarCompiler, tokenizer: Any) -> None:
    m = matcher(compiler, PLAIN, ANSWERS["json_schema"])
    assert feed(m, tokenizer, "thinking</think>")
    assert not m.is_accepting()
    assert not allowed(m, tokenizer.eos_token)  # an answer is required
    assert feed(m, tokenizer, '{"name": "Ann", "age": 3')
    assert not allowed(m, tokenizer.eos_token)
    assert feed(m, tokenizer, "0}")
    assert m.is_accepting()


@pytest.mark.parametrize("after", ['not json', '{"name": 5, "age": 1}',
                                   '{"age": 1, "name": "x"}', '{"name": "x", "age": 151}',
                                   '\n\n\n{"name": "x", "age": 1}'])
def test_an_invalid_answer_after_the_tag_is_rejected(compiler: GrammarCompiler, tokenizer: Any,
                                                     after: str) -> None:
    m = matcher(compiler, PLAIN, ANSWERS["json_schema"])
    assert feed(m, tokenizer, "ok</think>")
    assert not (feed(m, tokenizer, after) and m.is_accepting())


def test_json_without_the_tag_is_still_thinking(compiler: GrammarCompiler,
                                                tokenizer: Any) -> None:
    m = matcher(compiler, PLAIN, ANSWERS["json_schema"])
    assert feed(m, tokenizer, '{"name": "Ann", "age": 30}')
    assert not m.is_accepting()


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_eos_is_not_allowed_before_the_block_closes(compiler: GrammarCompiler, tokenizer: Any,
                                                    kind: str) -> None:
    m = matcher(compiler, PLAIN, ANSWERS[kind])
    assert not allowed(m, tokenizer.eos_token)
    for part in ["Let me", " think", " about", " it.", "</", "think"]:
        assert feed(m, tokenizer, part)
        assert not allowed(m, tokenizer.eos_token), part
    assert not m.consume_token(tokenizer.eos_token)


@pytest.mark.parametrize(("kind", "good", "bad"), [
    ("regex", "42", "4a"),
    ("choice", "yes", "maybe"),
    ("grammar", "99", "100"),
    ("grammar", "no", "nope"),
    ("json_object", '{"any": [1, 2]}', "[1, 2]"),
])
def test_other_answer_constraints(compiler: GrammarCompiler, tokenizer: Any, kind: str,
                                  good: str, bad: str) -> None:
    answer = ANSWERS[kind]
    assert accepts(compiler, tokenizer, PLAIN, answer, "Hmm.</think>", good)
    assert accepts(compiler, tokenizer, PLAIN, answer, "Hmm.</think>\n", good)
    assert not accepts(compiler, tokenizer, PLAIN, answer, "Hmm.</think>", bad)


@pytest.mark.parametrize("answer", [" ", "\n\n", " \n\t "])
def test_a_free_answer_cannot_be_empty_or_whitespace(compiler: GrammarCompiler, tokenizer: Any,
                                                     answer: str) -> None:
    m = matcher(compiler, PLAIN, None)
    assert feed(m, tokenizer, "So.</think>")
    assert not m.is_accepting() and not allowed(m, tokenizer.eos_token)
    assert feed(m, tokenizer, answer)
    assert not m.is_accepting() and not allowed(m, tokenizer.eos_token)
    assert feed(m, tokenizer, "Yes")
    assert m.is_accepting() and allowed(m, tokenizer.eos_token)


@pytest.mark.parametrize("text", ["So.</think> It is 4.", "</think>4", "x</think>\nA\n\nB.\n"])
def test_a_free_answer_is_any_text_that_says_something(compiler: GrammarCompiler,
                                                       tokenizer: Any, text: str) -> None:
    assert accepts(compiler, tokenizer, PLAIN, None, text)


@pytest.mark.parametrize("tag", ["<think>", "</think>"])
def test_a_free_answer_opens_no_second_block(compiler: GrammarCompiler, tokenizer: Any,
                                             tag: str) -> None:
    assert not accepts(compiler, tokenizer, PLAIN, None, f"So.</think>A {tag} b")


# --- native tags ------------------------------------------------------------------------------

def test_native_close_token(compiler: GrammarCompiler, tokenizer: Any) -> None:
    json_answer = ANSWERS["json_schema"]
    assert accepts(compiler, tokenizer, NATIVE, json_answer, "I think.", NATIVE_ID,
                   '{"name": "Ann", "age": 30}')
    assert accepts(compiler, tokenizer, NATIVE, None, "I think.", NATIVE_ID, " Yes.")
    assert accepts(compiler, tokenizer, NATIVE, None, NATIVE_ID, "Yes.")


def test_native_text_tag_does_not_close_the_block(compiler: GrammarCompiler,
                                                  tokenizer: Any) -> None:
    m = matcher(compiler, NATIVE, ANSWERS["json_schema"])
    assert feed(m, tokenizer, "I think.</think>", '{"name": "Ann", "age": 30}')
    assert not m.is_accepting()  # still in the block: only the special token closes it
    assert not allowed(m, tokenizer.eos_token)
    assert allowed(m, NATIVE_ID)


def test_native_eos_and_answer_need_the_close_token(compiler: GrammarCompiler,
                                                    tokenizer: Any) -> None:
    m = matcher(compiler, NATIVE, None)
    assert feed(m, tokenizer, "Thinking")
    assert not allowed(m, tokenizer.eos_token)
    assert allowed(m, NATIVE_ID)
    assert feed(m, tokenizer, NATIVE_ID)
    assert not allowed(m, NATIVE_ID)  # one block only
    assert not allowed(m, tokenizer.eos_token)  # the answer must say something


# --- with the budget, under random logits -----------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_budget_forced_close_is_accepted_and_the_answer_still_validates(
        compiler: GrammarCompiler, tokenizer: Any, seed: int) -> None:
    """Random logits (no model): the grammar masks, the budget forces the closing tag; the
    block ends within the budget and the answer after the tag matches the schema."""
    from jsonschema import validate

    budget_tokens = 24
    close = tokenizer.tokenize_str(CLOSE)
    (thinking,) = thinkings(budget_tokens, 1, close,
                            lambda t: bytes(tokenizer.decode_bytes([t])), None)
    grammar = GrammarProcessor(matcher(compiler, PLAIN, ANSWERS["json_schema"]),
                               tokenizer.vocab_size)
    sampler = Sampler(SamplingParams(temperature=1.0), tokenizer.vocab_size,
                      processors=[grammar, thinking.budget], seed=seed)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(200):
        draw = sampler.sample(rng.standard_normal(tokenizer.vocab_size).astype(np.float32))
        if draw.token == tokenizer.eos_token:
            break
        sampler.accept(draw.token)
        out.append(draw.token)
        if sampler.finished():
            break
    assert thinking.budget.closed
    assert thinking.tokens <= budget_tokens
    text = str(tokenizer.decode_str(out))
    reasoning, tag, answer = text.partition(CLOSE)
    assert tag == CLOSE
    assert len(tokenizer.tokenize_str(reasoning)) <= budget_tokens
    validate(json.loads(answer), SCHEMA)


@pytest.mark.parametrize(("answer", "ok"), [
    ("It is 4.", True), ("<b>4</b> it is", True), ("x < 3", True),
    ("</thINK>", False), ("</answer>", False), ("  </x> 4", False), ("ok </ThInK> 4", False),
    ("a <think b", False),
])
def test_free_answer_opens_with_no_closing_tag_and_spells_no_think_tag(tokenizer, answer, ok):
    from llguidance import LLMatcher

    from openmini.reasoning.grammar import FREE_ANSWER

    m = LLMatcher(tokenizer, f"%llguidance {{}}\nstart: ANSWER\nANSWER: {FREE_ANSWER}\n",
                  log_level=0)
    tokens = tokenizer.tokenize_str(answer)
    assert (all(m.consume_token(t) for t in tokens) and m.is_accepting()) == ok
