"""A call decided on a backtick is held to the ```json fence (tools/decision.py `Fence`)."""

from __future__ import annotations

import ctypes
import re
from typing import Any

import llama_cpp as ll
import numpy as np

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.processor import GrammarProcessor
from openmini.tools.decision import Fence, TextDecision, fence_pattern, token_mask
from openmini.tools.grammar import CallFormat, tool_constraint
from openmini.tools.spec import ToolChoice, ToolSpec

# a toy vocabulary: 0 prose, 1 the call tag, then fence pieces and code fences
PIECES = [b"Hello", b"<tool_call>", b"```", b"\n", b"json", b"```python", b"\n{", b"{",
          b"```\n", b"js", b"on"]
N = len(PIECES)
OPENS = np.array([p.startswith((b"`", b"{", b"[")) for p in PIECES]) | (np.arange(N) == 1)
NONE = np.zeros(N, dtype=bool)


def toy_fence() -> Fence:
    regex = re.compile(fence_pattern(), re.DOTALL)
    pieces = {t: p for t, p in enumerate(PIECES) if regex.fullmatch(p)}
    ticks = np.array([p.startswith(b"`") for p in PIECES])
    return Fence(N, pieces, ticks)


def logits_with(top: int) -> np.ndarray:
    logits = np.zeros(N, dtype=np.float32)
    logits[top] = 5.0
    return logits


def allowed(logits: np.ndarray) -> set[bytes]:
    return {PIECES[t] for t in np.flatnonzero(np.isfinite(logits))}


def test_the_pattern_takes_pieces_of_the_fence_and_its_continuations_only() -> None:
    regex = re.compile(fence_pattern(), re.DOTALL)
    fits = [b"`", b"```", b"```json", b"```json\n{", b"json", b"on\n", b"\n", b"\n{"]
    assert all(regex.fullmatch(p) for p in fits)
    assert not any(regex.fullmatch(p) for p in (b"```python", b"```\n", b"Hello", b"jsonl"))


def test_a_call_opened_on_a_backtick_keeps_to_the_json_fence() -> None:
    decision = TextDecision(OPENS, NONE, threshold=0.9, fence=toy_fence())
    first = logits_with(2)
    decision.process([], first)  # a call: prose and non-json code fences are masked
    assert decision.text is False
    assert allowed(first) == {b"<tool_call>", b"```", b"{"}
    decision.accept(2)  # "```"
    second = logits_with(3)  # the model goes for "\n": a bare fence, which would be prose
    decision.process([2], second)
    assert allowed(second) == {b"json", b"js"}
    decision.accept(9)  # "js"
    third = logits_with(3)
    decision.process([2, 9], third)
    assert allowed(third) == {b"on"}
    decision.accept(10)  # "on": "```json", the newline is left
    fourth = logits_with(0)
    decision.process([2, 9, 10], fourth)
    assert allowed(fourth) == {b"\n", b"\n{"}
    decision.accept(6)  # "\n{": the fence is open, the grammar has the rest
    free = logits_with(0)
    decision.process([2, 9, 10, 6], free)
    assert np.isfinite(free).all()


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


def test_a_rollback_inside_the_fence_goes_back_to_its_offset() -> None:
    decision = TextDecision(OPENS, NONE, threshold=0.9, fence=toy_fence())
    decision.process([], logits_with(2))
    decision.accept(2)
    decision.accept(4)  # "```json"
    decision.rollback(1)  # bad_words took "json" back: the fence is at "```" again
    again = logits_with(3)
    decision.process([2], again)
    assert allowed(again) == {b"json", b"js"}


def pieces_of(vocab: Any, pattern: bytes) -> dict[int, bytes]:
    buf, regex, out = ctypes.create_string_buffer(256), re.compile(pattern, re.DOTALL), {}
    for t in range(ll.llama_vocab_n_tokens(vocab)):
        n = ll.llama_token_to_piece(vocab, t, buf, len(buf), 0, False)
        if n > 0 and regex.fullmatch(buf.raw[:n]):
            out[t] = buf.raw[:n]
    return out


def test_under_the_real_tool_grammar_a_fenced_call_stays_a_call(
        compiler: GrammarCompiler, tokenizer: Any, vocab: Any) -> None:
    spec = ToolSpec("add", "", {"type": "object", "properties": {"a": {"type": "integer"}}})
    fmt = CallFormat(1, 2)  # tiny's <|im_start|>/<|im_end|> stand in for the call tags
    matcher = compiler.matcher(tool_constraint((spec,), ToolChoice("auto"), False, fmt))
    n_vocab = ll.llama_vocab_n_tokens(vocab)
    ticks = pieces_of(vocab, rb"`.*")
    opens = token_mask(n_vocab, 1, np.array(list(pieces_of(vocab, rb"[{\[].*")) + list(ticks)))
    fence_pieces = pieces_of(vocab, fence_pattern())
    fence = Fence(n_vocab, fence_pieces,
                  token_mask(n_vocab, np.array(list(ticks))))
    decision = TextDecision(opens, np.zeros(n_vocab, dtype=bool), 0.5, fence)
    grammar, text = GrammarProcessor(matcher, n_vocab), b""
    newline, tick = tokenizer.tokenize_str("\n")[0], tokenizer.tokenize_str("```")[0]
    out: list[int] = []
    while not text.startswith(b"```json\n") and len(out) < 8:
        logits = np.full(n_vocab, -5.0, dtype=np.float32)
        logits[newline if out else tick] = 6.0  # "```", then a bare fence (prose) if it can
        grammar.process(out, logits)
        decision.process(out, logits)
        token = int(np.argmax(logits))
        grammar.accept(token)
        decision.accept(token)
        out.append(token)
        text += ticks.get(token) or fence_pieces[token]
    assert text.startswith(b"```json\n"), text
