"""ThinkingBudget: counts the thinking block's tokens and forces the closing tag in time."""

from __future__ import annotations

import numpy as np
import pytest

from openmini.reasoning.budget import AnswerOnly, Thinking, ThinkingBudget, thinkings
from openmini.reasoning.split import ThinkSplit

V = 64
# a toy vocabulary: ids -> bytes; the closing tag is three tokens "</", "think", ">"
PIECES = {1: b"hmm", 2: b" ok", 3: b"<", 4: b"/", 5: b"th", 6: b"ink", 7: b">", 8: b"4",
          9: b"</think>", 10: b"</think> A", 20: b"</", 21: b"think", 22: b">", 30: b"x"}
CLOSE = [20, 21, 22]
NATIVE = 40


def piece(token: int) -> bytes:
    return PIECES.get(token, b"?")


def step(budget: ThinkingBudget, token: int | None = None) -> int:
    """One sampler step: process, then accept `token` (or the forced one when forcing)."""
    logits = np.zeros(V, dtype=np.float32)
    budget.process([], logits)
    allowed = np.flatnonzero(np.isfinite(logits))
    if len(allowed) == 1:
        assert token is None or token == allowed[0], "a forced step"
        token = int(allowed[0])
    assert token is not None
    budget.accept(token)
    return token


def forced(budget: ThinkingBudget) -> int | None:
    """The token the next step forces (None when it forces nothing)."""
    logits = np.zeros(V, dtype=np.float32)
    budget.process([], logits)
    finite = np.flatnonzero(np.isfinite(logits))
    if len(finite) == V:
        assert np.all(logits == 0.0)
        return None
    assert len(finite) == 1 and logits[finite[0]] == 0.0
    return int(finite[0])


def test_counts_accepted_tokens_while_open() -> None:
    b = ThinkingBudget(100, CLOSE, piece)
    for _ in range(5):
        step(b, 1)
    assert b.tokens == 5 and not b.closed


def test_forces_exactly_the_close_tokens_when_only_they_still_fit() -> None:
    b = ThinkingBudget(10, CLOSE, piece)
    for _ in range(6):
        assert forced(b) is None
        step(b, 1)
    assert b.tokens == 6 and forced(b) is None  # 6 + 3 < 10: one more free token
    step(b, 2)
    out = [forced(b)]
    step(b)
    out.append(forced(b))
    step(b)
    out.append(forced(b))
    step(b)
    assert out == CLOSE
    assert b.closed and b.tokens == 10
    assert forced(b) is None  # the answer is free


def test_forcing_masks_whatever_came_before() -> None:
    b = ThinkingBudget(4, CLOSE, piece)
    step(b, 1)
    logits = np.full(V, 5.0, dtype=np.float32)
    logits[30] = 100.0
    b.process([], logits)
    assert logits[20] == 0.0
    assert np.all(np.isneginf(np.delete(logits, 20)))


@pytest.mark.parametrize("budget", range(len(CLOSE) + 1, 80))
def test_reasoning_tokens_never_exceed_the_budget(budget: int) -> None:
    rng = np.random.default_rng(budget)
    fillers = [1, 2, 3, 4, 5, 6, 8, 30]  # pieces of the tag, but never all of it in order
    b = ThinkingBudget(budget, CLOSE, piece)
    for _ in range(budget * 2):
        if b.closed:
            break
        step(b, None if forced(b) is not None else int(rng.choice(fillers)))
    assert b.closed
    assert b.tokens == budget


def test_a_budget_smaller_than_the_tag_forces_at_once() -> None:
    b = ThinkingBudget(2, CLOSE, piece)
    assert forced(b) == 20


@pytest.mark.parametrize("tokens", [[20, 21, 22], [3, 4, 5, 6, 7], [9], [10], [1, 3, 4, 21, 7]])
def test_a_natural_close_stops_counting_and_forcing(tokens: list[int]) -> None:
    b = ThinkingBudget(50, CLOSE, piece)
    step(b, 1)
    for t in tokens:
        assert not b.closed
        step(b, t)
    assert b.closed
    assert b.tokens == 1 + len(tokens)
    for _ in range(100):  # well past the budget: nothing is forced, nothing counted
        assert forced(b) is None
        step(b, 30)
    assert b.tokens == 1 + len(tokens)


def test_a_close_spelled_before_forcing_would_start() -> None:
    b = ThinkingBudget(6, CLOSE, piece)
    step(b, 1)
    step(b, 1)
    step(b, 9)  # tokens 3: 3 + 3 >= 6 would force next
    assert b.closed and forced(b) is None


def test_a_tag_near_miss_does_not_close() -> None:
    b = ThinkingBudget(50, CLOSE, piece)
    for t in [3, 4, 5, 6, 30, 7]:  # "</thinkx>"
        step(b, t)
    assert not b.closed


def test_native_close_id() -> None:
    b = ThinkingBudget(50, [NATIVE], piece, close_id=NATIVE)
    step(b, 1)
    step(b, 9)  # the text "</think>" is not the native tag
    assert not b.closed
    step(b, NATIVE)
    assert b.closed and b.tokens == 3


def test_native_budget_forces_the_one_tag_token() -> None:
    b = ThinkingBudget(5, [NATIVE], piece, close_id=NATIVE)
    for _ in range(4):
        assert forced(b) is None
        step(b, 1)
    assert forced(b) == NATIVE
    step(b)
    assert b.closed and b.tokens == 5


def test_no_close_tokens_is_an_error() -> None:
    with pytest.raises(ValueError):
        ThinkingBudget(10, [], piece)


# --- rollback (bad_words backtracking) --------------------------------------------------------

def state(b: ThinkingBudget) -> tuple[int, bool, int | None]:
    return b.tokens, b.closed, forced(b)


def test_rollback_restores_the_count() -> None:
    b = ThinkingBudget(100, CLOSE, piece)
    for _ in range(3):
        step(b, 1)
    before = state(b)
    step(b, 2)
    step(b, 2)
    b.rollback(2)
    assert state(b) == before
    b.rollback(0)
    assert state(b) == before
    b.rollback(-1)
    assert state(b) == before


def test_rollback_out_of_forcing() -> None:
    b = ThinkingBudget(8, CLOSE, piece)
    for _ in range(4):
        step(b, 1)
    assert forced(b) is None
    step(b, 1)  # tokens 5: forcing starts
    assert forced(b) == 20
    step(b)
    assert forced(b) == 21
    b.rollback(1)
    assert state(b) == (5, False, 20)
    b.rollback(1)
    assert state(b) == (4, False, None)  # free again: one token fits before the tag
    step(b, 2)
    assert [forced(b), step(b), forced(b), step(b), forced(b), step(b)] == [20, 20, 21, 21,
                                                                          22, 22]
    assert b.closed and b.tokens == 8


def test_rollback_across_a_natural_close() -> None:
    b = ThinkingBudget(100, CLOSE, piece)
    for t in [1, 3, 4, 5, 6]:
        step(b, t)
    step(b, 7)
    assert b.closed
    for _ in range(3):
        step(b, 30)  # answer tokens
    b.rollback(3)
    assert b.closed and b.tokens == 6
    b.rollback(1)  # the ">" is forgotten: the block is open again, "</think" still pending
    assert not b.closed and b.tokens == 5
    step(b, 30)
    assert not b.closed  # "</thinkx" is no tag
    b.rollback(1)
    step(b, 7)
    assert b.closed


def test_rollback_of_the_forced_close() -> None:
    b = ThinkingBudget(4, CLOSE, piece)
    step(b, 1)
    for _ in CLOSE:
        step(b)
    assert b.closed
    b.rollback(1)
    assert state(b) == (3, False, 22)
    step(b)
    assert b.closed and b.tokens == 4


# --- AnswerOnly -------------------------------------------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.processed: list[int] = []
        self.accepted: list[int] = []

    def process(self, generated: list[int], logits: np.ndarray) -> None:
        self.processed.append(len(generated))
        logits[0] = -np.inf

    def accept(self, token: int) -> None:
        self.accepted.append(token)


def test_answer_only_runs_the_inner_processor_after_the_block_closes() -> None:
    b = ThinkingBudget(100, CLOSE, piece)
    inner = Recorder()
    guard = AnswerOnly(inner, b)
    generated: list[int] = []
    for t in [1, 2, 20, 21, 22, 8, 30]:
        logits = np.zeros(V, dtype=np.float32)
        guard.process(generated, logits)  # the sampler's order: the guard before the budget
        b.process(generated, logits)
        assert np.isneginf(logits[0]) == b.closed
        guard.accept(t)
        b.accept(t)
        generated.append(t)
    assert inner.accepted == [8, 30]  # not the tag's own tokens
    assert inner.processed == [5, 6]


# --- thinkings() ------------------------------------------------------------------------------

def test_thinkings_makes_one_independent_thinking_per_choice() -> None:
    out = thinkings(100, 3, CLOSE, piece, None)
    assert len(out) == 3
    assert all(isinstance(t, Thinking) and isinstance(t.split, ThinkSplit) for t in out)
    assert len({id(t.budget) for t in out}) == 3 and len({id(t.split) for t in out}) == 3
    step(out[0].budget, 1)
    assert [t.tokens for t in out] == [1, 0, 0]
    assert out[0].budget.budget == 100


def test_thinkings_raises_a_tiny_budget_to_fit_the_tag_and_one_thought() -> None:
    (t,) = thinkings(2, 1, CLOSE, piece, None)
    assert t.budget.budget == len(CLOSE) + 1
    assert forced(t.budget) is None  # one free thought
    step(t.budget, 1)
    assert forced(t.budget) == 20


def test_thinkings_native_shares_the_close_id_with_the_split() -> None:
    (t,) = thinkings(50, 1, [NATIVE], piece, NATIVE)
    assert t.budget.close_id == NATIVE and t.split.close_id == NATIVE


def test_repeating_finds_a_run_three_times_over_at_the_end() -> None:
    from openmini.reasoning.budget import repeating

    assert repeating([9, 1, 2, 3, 1, 2, 3, 1, 2, 3])
    assert not repeating([1, 2, 3, 1, 2, 3, 9])  # the end breaks it
    assert not repeating(list(range(200)))  # counting is not a loop
    assert not repeating([1, 2, 3, 1, 2, 3])  # twice is not enough
    assert repeating([5, 6] * 3)


def test_a_thinking_block_stuck_in_a_loop_is_closed_early() -> None:
    budget = ThinkingBudget(1000, CLOSE, piece)
    generated: list[int] = []
    phrase = [1, 2, 8, 30]  # "hmm ok4x" again and again
    while budget._forced == 0 and len(generated) < 200:
        logits = np.zeros(V, dtype=np.float32)
        budget.process(generated, logits)
        allowed = np.flatnonzero(np.isfinite(logits))
        token = int(allowed[0]) if len(allowed) == 1 else phrase[len(generated) % 4]
        budget.accept(token)
        generated.append(token)
    assert generated[-1] == CLOSE[0] and len(generated) <= 3 * 4 + 8 + 1
    for _ in CLOSE[1:]:
        logits = np.zeros(V, dtype=np.float32)
        budget.process(generated, logits)
        token = int(np.flatnonzero(np.isfinite(logits))[0])
        budget.accept(token)
        generated.append(token)
    assert budget.closed and generated[-3:] == CLOSE


def test_varied_thinking_is_not_cut_short() -> None:
    budget = ThinkingBudget(64, CLOSE, piece)
    generated: list[int] = []
    rng = np.random.default_rng(0)
    while not budget.closed:
        logits = np.zeros(V, dtype=np.float32)
        budget.process(generated, logits)
        allowed = np.flatnonzero(np.isfinite(logits))
        token = int(allowed[0]) if len(allowed) == 1 else int(rng.integers(41, 60))
        budget.accept(token)
        generated.append(token)
    assert budget.tokens == 64  # ran to the budget


def test_after_a_forced_close_the_separator_is_forced_too_and_not_counted() -> None:
    budget = ThinkingBudget(6, CLOSE, piece, after=[2])
    tokens = [step(budget, 1) for _ in range(3)] + [step(budget) for _ in range(3)]
    assert tokens[-3:] == CLOSE and budget.closed and budget.tokens == 6
    assert forced(budget) == 2
    step(budget)
    assert forced(budget) is None and budget.tokens == 6
    budget.rollback(1)
    assert forced(budget) == 2  # rolled back into the separator


def test_a_natural_close_forces_no_separator() -> None:
    budget = ThinkingBudget(50, CLOSE, piece, after=[2])
    for token in (1, 20, 21, 22):
        step(budget, token)
    assert budget.closed and forced(budget) is None
