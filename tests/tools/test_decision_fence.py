"""A call decided on ``` may open a ```json or ```python fence, not a bare one
(tools/decision.py `Fence`)."""

from __future__ import annotations

import re
from typing import Any

import llama_cpp as ll
import numpy as np
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.processor import GrammarProcessor
from openmini.tools.decision import Fence, TextDecision, token_mask
from openmini.tools.grammar import CallFormat, tool_constraint
from openmini.tools.spec import ToolChoice, ToolSpec

from .test_decision import pieces_of

# a toy vocabulary: 0 prose, 1 the call tag, then fence pieces and code fences
PIECES = [b"Hello", b"<tool_call>", b"```", b"\n", b"json", b"```python", b"\n{", b"{",
          b"```\n", b"`", b"``", b" x", b"python", b".", b"```."]
N = len(PIECES)
OPENS = np.array([p.startswith((b"`", b"{", b"[")) for p in PIECES]) | (np.arange(N) == 1)
NONE = np.zeros(N, dtype=bool)


def toy_fence() -> Fence:
    regex = re.compile(Fence.PATTERN, re.DOTALL)
    return Fence(N, {t: p for t, p in enumerate(PIECES) if regex.fullmatch(p)})


def logits_with(top: int) -> np.ndarray:
    logits = np.zeros(N, dtype=np.float32)
    logits[top] = 5.0
    return logits


def allowed(logits: np.ndarray) -> set[bytes]:
    return {PIECES[t] for t in np.flatnonzero(np.isfinite(logits))}


def decided_call() -> TextDecision:
    decision = TextDecision(OPENS, NONE, threshold=0.9, fence=toy_fence())
    first = logits_with(2)
    decision.process([], first)  # a call: prose and a bare fence are masked
    assert decision.text is False
    assert allowed(first) == {b"<tool_call>", b"```", b"```python", b"{", b"`", b"``"}
    return decision


def test_after_a_call_decided_on_backticks_a_bare_fence_is_masked() -> None:
    decision = decided_call()
    decision.accept(9)  # "`"
    second = logits_with(3)
    decision.process([9], second)
    # one or two more backticks (not four), or what the grammar decides (it takes neither)
    assert allowed(second) == {p for p in PIECES if p[:1].isalpha()} | {b"`", b"``"}
    decision.accept(10)  # "``": three
    third = logits_with(3)  # the model goes for "\n": a bare fence, which would be prose
    decision.process([9, 10], third)
    assert allowed(third) == {b"Hello", b"json", b"python"}  # a language's name
    decision.accept(4)  # "json": past the fence's opening, the grammar has the rest
    free = logits_with(3)
    decision.process([9, 10, 4], free)
    assert np.isfinite(free).all()


def test_a_code_answer_may_still_open_with_a_named_fence() -> None:
    decision = decided_call()
    decision.accept(5)  # "```python"
    later = logits_with(3)
    decision.process([5], later)
    assert np.isfinite(later).all()


def test_a_call_on_the_tag_or_a_brace_and_a_text_answer_are_not_held() -> None:
    for opener in (1, 7):
        decision = TextDecision(OPENS, NONE, threshold=0.9, fence=toy_fence())
        decision.process([], logits_with(opener))
        decision.accept(opener)
        later = logits_with(0)
        decision.process([opener], later)
        assert np.isfinite(later).all()
    decision = TextDecision(OPENS, NONE, threshold=0.1, fence=toy_fence())
    first = logits_with(0)
    decision.process([], first)
    assert decision.text is True
    assert allowed(first) == {p for p, call in zip(PIECES, OPENS, strict=True) if not call}


def test_a_rollback_goes_back_to_the_backticks_written() -> None:
    decision = decided_call()
    decision.accept(2)  # "```"
    decision.accept(4)  # "json"
    decision.rollback(1)  # bad_words took "json" back: three backticks again
    again = logits_with(3)
    decision.process([2], again)
    assert b"\n" not in allowed(again) and b"json" in allowed(again)


@pytest.mark.parametrize(("second", "then", "free"), [("json", "{", False),
                                                      ("python", "def", True)])
def test_under_the_real_tool_grammar_a_bare_fence_leaves_json_or_code(
        compiler: GrammarCompiler, tokenizer: Any, vocab: Any, second: str, then: str,
        free: bool) -> None:
    spec = ToolSpec("add", "", {"type": "object", "properties": {"a": {"type": "integer"}}})
    fmt = CallFormat(1, 2)  # tiny's <|im_start|>/<|im_end|> stand in for the call tags
    matcher = compiler.matcher(tool_constraint((spec,), ToolChoice("auto"), False, fmt))
    n_vocab = ll.llama_vocab_n_tokens(vocab)
    opens = token_mask(n_vocab, 1, np.array(list(pieces_of(vocab, rb"[{\[`].*"))))
    fence = Fence(n_vocab, pieces_of(vocab, Fence.PATTERN))
    decision = TextDecision(opens, np.zeros(n_vocab, dtype=bool), 0.5, fence)
    grammar, out = GrammarProcessor(matcher, n_vocab), []
    tick, newline, hello, token_2, token_3 = (tokenizer.tokenize_str(t)[0] for t in (
        "```", "\n", "Hello", second, then))
    for wanted in ([tick], [newline, token_2], [newline], [token_3]):
        logits = np.full(n_vocab, -5.0, dtype=np.float32)
        logits[wanted] = [6.0, 5.0][:len(wanted)]  # "```", then a bare fence if it can
        grammar.process(out, logits)
        decision.process(out, logits)
        out.append(int(np.argmax(logits)))
        grammar.accept(out[-1])
        decision.accept(out[-1])
    assert out == [tick, token_2, newline, token_3]
    assert decision.text is False
    logits = np.zeros(n_vocab, dtype=np.float32)
    grammar.process(out, logits)
    assert bool(np.isfinite(logits[hello])) is free  # a call's JSON, or a free code block
