"""GrammarProcessor.rollback on a real llguidance matcher over the `tiny` vocabulary: after a
rollback the mask and the accepted text are those of the shorter prefix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openmini.decoding.constraint import Constraint
from openmini.decoding.processor import GrammarProcessor


def mask(proc: GrammarProcessor) -> np.ndarray:
    logits = np.zeros(proc.n_vocab, dtype=np.float32)
    proc.process((), logits)
    return np.isfinite(logits)


def test_rollback_restores_the_mask(compiler: Any, tokenizer: Any) -> None:
    c = Constraint.choice(["red", "green", "blue"], "structured_outputs.choice")
    proc = GrammarProcessor(compiler.matcher(c), tokenizer.vocab_size)
    start = mask(proc)
    tokens = tokenizer.tokenize_str("green")
    proc.accept(tokens[0])
    after_one = mask(proc)
    for t in tokens[1:]:
        proc.accept(t)
    assert proc.finished() or not np.array_equal(mask(proc), after_one)
    proc.rollback(len(tokens) - 1)
    assert np.array_equal(mask(proc), after_one)
    proc.rollback(1)
    assert np.array_equal(mask(proc), start)
    proc.rollback(0)  # a no-op
    for t in tokenizer.tokenize_str("blue"):  # another path from the start is accepted
        proc.accept(t)


def test_rollback_past_the_start_raises(compiler: Any, tokenizer: Any) -> None:
    proc = GrammarProcessor(compiler.matcher(Constraint.regex("[a-z]+", "x")),
                            tokenizer.vocab_size)
    proc.accept(tokenizer.tokenize_str("abc")[0])
    with pytest.raises(RuntimeError):
        proc.rollback(5)
