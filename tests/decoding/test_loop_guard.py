"""LoopGuard: a constrained sequence cannot cycle forever."""

from __future__ import annotations

import numpy as np

from openmini.decoding.loop_guard import (
    ESCALATE,
    MAX_DISTINCT,
    WINDOW,
    WRAP,
    LoopGuard,
    followers,
    looping,
)

WRAP_AT = 100 - WRAP


# `fast` (Qwen2.5-Coder) tokens of a call it wrote for BFCL multiple_12, laid out as in a
# ```json fence, ending `"year1_revenue": 1000000,\n    "year2": 2020,\n    "year2_revenue":
# 1200000\n  }\n}\n````. Its last 64 tokens hold only 19 distinct ones (one token per
# digit), yet there is no loop.
INDENTED_CALL = [
    73594, 2236, 198, 515, 220, 330, 606, 788, 330, 6005, 60621, 761, 24387, 24005, 11207,
    10626, 46, 56, 49182, 9246, 756, 220, 330, 16370, 788, 341, 262, 330, 10139, 1269, 788, 330,
    34097, 4848, 756, 262, 330, 3157, 16, 788, 220, 17, 15, 16, 24, 345, 262, 330, 3157, 16, 1288,
    7140, 788, 220, 16, 15, 15, 15, 15, 15, 15, 345, 262, 330, 3157, 17, 788, 220, 17, 15, 17, 15,
    345, 262, 330, 3157, 17, 1288, 7140, 788, 220, 16, 17, 15, 15, 15, 15, 15, 198, 220, 456, 532,
    73594]


def test_loop_detection_needs_repetition() -> None:
    cycle = [11, 12, 13, 14, 15, 16, 17]
    assert looping(cycle * 10)
    varied = [*cycle, 18] * 4 + cycle + [19, 20] + cycle * 4  # a cycle with insertions
    assert looping(varied)
    numbered = [t for k in range(16) for t in (31, 32, 40 + k % 3, 33)]  # `Part I/II/III`
    assert looping(numbered)
    assert not looping(list(range(WINDOW)))  # all distinct
    assert not looping(cycle * 5)  # shorter than the window


def test_structured_output_with_few_distinct_tokens_is_not_a_loop() -> None:
    tokens = INDENTED_CALL
    assert len(set(tokens[-WINDOW:])) <= MAX_DISTINCT  # what a diversity test calls a loop
    assert not any(looping(tokens[:i]) for i in range(WINDOW, len(tokens) + 1))
    digits = [15 + d for d in range(10)]
    counting = [t for k in range(10, 60) for t in (digits[k // 10], digits[k % 10], 11, 220)]
    assert not looping(counting)  # `10, 11, ... 59`: a list, not a cycle


def test_guard_leaves_an_indented_call_alone() -> None:
    guard = LoopGuard()  # inside `1200000`, (0, 0, 0) was followed by 0 before: not banned
    for i in range(WINDOW, len(INDENTED_CALL) + 1):
        logits = np.zeros(80000, dtype=np.float32)
        guard.process(INDENTED_CALL[:i], logits)
        assert np.isfinite(logits).all()
    assert guard.interventions == 0


def test_followers_of_the_last_context() -> None:
    assert followers([1, 2, 3, 4, 1, 2, 3, 5, 9, 1, 2, 3]) == {4, 5}


def test_bans_what_the_loop_used_and_keeps_a_way_out() -> None:
    guard = LoopGuard()
    generated = [4, 8, 15, 16] * 20  # next would be 4 again (no way to an end is known)
    logits = np.zeros(30, dtype=np.float32)
    guard.process(generated, logits)
    assert logits[4] == -np.inf and np.isfinite(logits).sum() == 29
    assert guard.interventions == 1


def test_never_removes_every_allowed_token() -> None:
    guard = LoopGuard()
    logits = np.full(20, -np.inf, dtype=np.float32)
    logits[7] = 0.0  # the grammar forces 7
    guard.process([7] * 80, logits)
    assert logits[7] == 0.0 and guard.interventions == 0


def test_no_intervention_on_varied_output() -> None:
    guard = LoopGuard()
    logits = np.zeros(2000, dtype=np.float32)
    guard.process(list(np.random.default_rng(1).integers(0, 2000, 300)), logits)
    assert np.isfinite(logits).all() and guard.interventions == 0


def test_sustained_loop_steers_to_an_allowed_end() -> None:
    quotes, brackets = np.array([3, 9]), np.array([5])
    guard = LoopGuard(quotes, brackets)
    generated = [4, 8, 15, 16] * 20
    for _ in range(ESCALATE):
        guard.process(generated, np.zeros(2000, dtype=np.float32))
    # free context (inside a string): only allowed quote tokens stay
    logits = np.zeros(2000, dtype=np.float32)
    logits[9] = -np.inf
    guard.process(generated, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [3]
    # a narrow context: the closing bracket
    logits = np.full(2000, -np.inf, dtype=np.float32)
    logits[[5, 6, 7]] = 0.0
    guard.process(generated, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [5]
    # neither allowed: back to banning the loop's continuations
    logits = np.full(2000, -np.inf, dtype=np.float32)
    logits[[4, 6]] = 0.0
    guard.process(generated, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [6]


def test_wraps_up_before_max_tokens_without_a_loop() -> None:
    guard = LoopGuard(np.array([3]), np.array([5]), max_tokens=100)
    varied = list(range(100, 170))
    logits = np.zeros(2000, dtype=np.float32)
    guard.process(varied[:60], logits)  # not near the end: untouched
    assert np.isfinite(logits).all()
    guard.process(varied[:WRAP_AT], logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [3]


def test_prose_is_not_wrapped_up_and_a_lasting_loop_in_it_ends() -> None:
    # prose: more than OPEN_CONTEXT tokens allowed, the end among them (an auto tool answer)
    ends = np.array([2])
    guard = LoopGuard(np.array([3]), np.array([5]), max_tokens=100, ends=ends)
    logits = np.zeros(2000, dtype=np.float32)
    guard.process(list(range(100, 100 + WRAP_AT)), logits)
    assert np.isfinite(logits).all() and guard.interventions == 0  # no `"` to max_tokens
    loop = [4, 8, 15, 16] * 20
    for _ in range(ESCALATE):
        logits = np.zeros(2000, dtype=np.float32)
        guard.process(loop, logits)
        assert logits[4] == -np.inf and np.isfinite(logits).sum() == 1999
    logits = np.zeros(2000, dtype=np.float32)
    guard.process(loop, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [2]  # the end, not a quote
    # inside a JSON string the end is not allowed: the quote is still the way out there
    logits = np.zeros(2000, dtype=np.float32)
    logits[2] = -np.inf
    guard.process(loop, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [3]
