"""LoopGuard: a constrained sequence cannot cycle forever."""

from __future__ import annotations

import numpy as np

from openmini.decoding.loop_guard import (
    ESCALATE,
    WINDOW,
    WRAP,
    LoopGuard,
    followers,
    looping,
)

WRAP_AT = 100 - WRAP


def test_loop_detection_is_on_diversity() -> None:
    cycle = [11, 12, 13, 14, 15, 16, 17]
    assert looping(cycle * 10)
    varied = [*cycle, 18] * 4 + cycle + [19, 20] + cycle * 4  # a cycle with variations
    assert looping(varied)
    assert not looping(list(range(WINDOW)))  # all distinct
    assert not looping(cycle * 5)  # shorter than the window


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
