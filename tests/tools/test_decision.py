"""TextDecision (tools/decision.py): call or text, decided on the first token's class mass."""

from __future__ import annotations

import ctypes
import re
from typing import Any

import llama_cpp as ll
import numpy as np
import pytest

from openmini.backends.local import tool_text_threshold
from openmini.config import EngineConfig, load_config
from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.processor import GrammarProcessor
from openmini.models.catalogue import DEFAULT_TOOL_TEXT_THRESHOLD
from openmini.reasoning.budget import AnswerOnly
from openmini.tools.decision import TextDecision, spelled_tag, token_mask
from openmini.tools.grammar import CallFormat, tool_constraint
from openmini.tools.spec import ToolChoice, ToolSpec

OPENS = np.array([False, False, False, True, True, False])  # 3: the tag, 4: "{"
NONE = np.zeros(6, dtype=bool)


def logits_of(probs: list[float]) -> np.ndarray:
    return np.log(np.array(probs, dtype=np.float64)).astype(np.float32)


def test_text_when_prose_as_a_whole_reaches_the_threshold() -> None:
    # argmax is the tag (0.4), but prose holds 0.2 + 0.15 + 0.1 = 0.45 of the mass
    logits = logits_of([0.2, 0.15, 0.1, 0.4, 0.1, 0.05])
    decision = TextDecision(OPENS, NONE, threshold=0.3)
    decision.process([], logits)
    assert decision.p_text == pytest.approx(0.5) and decision.text is True
    assert np.isneginf(logits[OPENS]).all() and np.isfinite(logits[~OPENS]).all()
    assert int(np.argmax(logits)) == 0


def test_a_call_below_the_threshold_masks_prose() -> None:
    logits = logits_of([0.3, 0.05, 0.05, 0.3, 0.25, 0.05])  # prose 0.45 < 0.6: a call
    decision = TextDecision(OPENS, NONE, threshold=0.6)
    decision.process([], logits)
    assert decision.text is False and decision.p_text == pytest.approx(0.45)
    assert np.isneginf(logits[~OPENS]).all() and int(np.argmax(logits)) == 3


def test_the_share_is_over_allowed_tokens_only() -> None:
    logits = logits_of([0.2, 0.2, 0.2, 0.2, 0.1, 0.1])
    logits[[1, 2, 5]] = -np.inf  # the grammar masked them: prose 0.2 of the allowed 0.5
    decision = TextDecision(OPENS, NONE, threshold=0.5)
    decision.process([], logits)
    assert decision.p_text == pytest.approx(0.4) and decision.text is False


def test_decides_once_and_again_after_a_rollback_past_it() -> None:
    decision = TextDecision(OPENS, NONE, threshold=0.5)
    decision.process([], logits_of([0.9, 0.02, 0.02, 0.02, 0.02, 0.02]))
    decision.accept(0)
    later = logits_of([0.02, 0.02, 0.02, 0.9, 0.02, 0.02])
    decision.process([0], later)
    assert np.isfinite(later).all()  # past the first answer token it never masks
    decision.accept(3)
    decision.rollback(1)  # the deciding token is still there
    decision.process([0], later)
    assert np.isfinite(later).all()
    decision.rollback(1)  # bad_words backtracking took it back: decide again
    again = logits_of([0.02, 0.02, 0.02, 0.9, 0.02, 0.02])
    decision.process([], again)
    assert decision.text is False and np.isneginf(again[~OPENS]).all()


def test_nothing_to_decide_when_one_class_is_forced() -> None:
    decision = TextDecision(OPENS, NONE, threshold=0.5)
    forced = np.full(6, -np.inf, dtype=np.float32)
    forced[1] = 0.0  # e.g. the blank line after a forced </think>
    decision.process([], forced)
    decision.accept(1)
    assert decision.p_text is None and np.isfinite(forced).sum() == 1
    logits = logits_of([0.1, 0.1, 0.1, 0.5, 0.1, 0.1])
    decision.process([1], logits)  # the first token with a choice is the one decided on
    assert decision.text is False


def test_after_thinking_it_sees_answer_tokens_and_rollbacks_only() -> None:
    class Budget:
        closed = False

    budget, decision = Budget(), TextDecision(OPENS, NONE, threshold=0.5)
    wrapped = AnswerOnly(decision, budget)  # type: ignore[arg-type]
    thought = logits_of([0.1, 0.1, 0.1, 0.5, 0.1, 0.1])
    wrapped.process([], thought)
    assert decision.p_text is None and np.isfinite(thought).all()
    budget.closed = True
    answer = logits_of([0.1, 0.1, 0.1, 0.5, 0.1, 0.1])
    wrapped.process([7, 7], answer)
    wrapped.accept(3)
    wrapped.rollback(5)  # back into the thinking block: clamped, undecided again
    assert decision._trail is None


def test_a_spelled_tag_counts_as_a_call_and_is_masked_either_way() -> None:
    spelled = np.array([False, False, True, False, False, False])  # 2: "<"
    for probs, text in (([0.3, 0.1, 0.3, 0.2, 0.05, 0.05], False), ([0.5, 0.3, 0.1, 0.05,
                                                                        0.025, 0.025], True)):
        logits = logits_of(probs)
        decision = TextDecision(OPENS, spelled, threshold=0.5)
        decision.process([], logits)
        assert decision.text is text and np.isneginf(logits[2])
        assert decision.p_text == pytest.approx(probs[0] + probs[1] + probs[5])


def test_spelled_tag_pattern_matches_prefixes_only() -> None:
    pattern = re.compile(spelled_tag("<tool_call>"))
    assert all(pattern.fullmatch(p) for p in (b"<", b"<t", b"<tool_", b"<tool_call>"))
    assert not any(pattern.fullmatch(p) for p in (b"", b"<div", b"tool", b"<tool_call>x"))


def pieces_of(vocab: Any, pattern: bytes) -> dict[int, bytes]:
    """The tokens whose whole bytes match `pattern`, with their bytes."""
    buf, regex, out = ctypes.create_string_buffer(256), re.compile(pattern, re.DOTALL), {}
    for t in range(ll.llama_vocab_n_tokens(vocab)):
        n = ll.llama_token_to_piece(vocab, t, buf, len(buf), 0, False)
        if n > 0 and regex.fullmatch(buf.raw[:n]):
            out[t] = buf.raw[:n]
    return out


def test_under_the_real_tool_grammar_the_argmax_call_becomes_text(
        compiler: GrammarCompiler, tokenizer: Any, vocab: Any) -> None:
    spec = ToolSpec("add", "", {"type": "object", "properties": {"a": {"type": "integer"}}})
    fmt = CallFormat(1, 2)  # tiny's <|im_start|>/<|im_end|> stand in for the call tags
    matcher = compiler.matcher(tool_constraint((spec,), ToolChoice("auto"), False, fmt))
    n_vocab = ll.llama_vocab_n_tokens(vocab)
    opens = token_mask(n_vocab, 1, np.array(list(pieces_of(vocab, rb"[{\[`].*"))))
    hello, fence = tokenizer.tokenize_str("Hello")[0], tokenizer.tokenize_str("```")[0]
    logits = np.full(n_vocab, -5.0, dtype=np.float32)  # prose spread over thousands of tokens
    logits[fence] = 4.0  # one call opening with the single highest logit
    logits[hello] = 3.0
    GrammarProcessor(matcher, n_vocab).process([], logits)
    decision = TextDecision(opens, np.zeros(n_vocab, dtype=bool), threshold=0.5)
    decision.process([], logits)
    assert decision.text is True and int(np.argmax(logits)) == hello
    assert np.isneginf(logits[fence]) and np.isneginf(logits[1])
    assert matcher.consume_token(hello)


def test_threshold_comes_from_config_then_catalogue_then_default(tmp_path: Any) -> None:
    from openmini.models.catalogue import CATALOGUE

    assert tool_text_threshold(EngineConfig(model="fast", tool_text_threshold=0.7)) == 0.7
    assert tool_text_threshold(EngineConfig(model="fast")) == CATALOGUE["fast"].tool_text_threshold
    unlisted = EngineConfig(model=str(tmp_path / "m.gguf"))
    assert tool_text_threshold(unlisted) == DEFAULT_TOOL_TEXT_THRESHOLD


def test_threshold_after_results_is_its_own_and_falls_back_to_the_first_turns(
        tmp_path: Any) -> None:
    from openmini.backends.local import tool_results_threshold
    from openmini.models.catalogue import CATALOGUE

    fast = CATALOGUE["fast"]
    assert fast.tool_results_threshold is not None
    assert tool_results_threshold(EngineConfig(model="fast")) == fast.tool_results_threshold
    assert tool_results_threshold(EngineConfig(model="fast", tool_results_threshold=0.6)) == 0.6
    unlisted = EngineConfig(model=str(tmp_path / "m.gguf"), tool_text_threshold=0.3)
    assert tool_results_threshold(unlisted) == 0.3
    assert load_config(env={"OPENMINI_TOOL_RESULTS_THRESHOLD": "0.4"}
                       ).engine.tool_results_threshold == 0.4
    with pytest.raises(ValueError, match="tool_results_threshold"):
        EngineConfig(tool_results_threshold=0)


def test_threshold_setting_is_checked_and_read_from_the_environment() -> None:
    config = load_config(env={"OPENMINI_TOOL_TEXT_THRESHOLD": "0.25"})
    assert config.engine.tool_text_threshold == 0.25
    for bad in (0, 1.5, -0.1, True, "high"):
        with pytest.raises(ValueError, match="tool_text_threshold"):
            EngineConfig(tool_text_threshold=bad)  # type: ignore[arg-type]
