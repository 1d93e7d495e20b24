"""LoopGuard: a constrained sequence cannot cycle forever."""

from __future__ import annotations

import numpy as np

from openmini.decoding.loop_guard import ESCALATE, WINDOW, LoopGuard, followers, looping


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
    generated = [4, 8, 15, 16] * 20  # next would be 4 again
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


def test_sustained_loop_takes_an_allowed_closing_quote() -> None:
    quotes = np.array([3, 9])
    guard = LoopGuard(quotes)
    generated = [4, 8, 15, 16] * 20
    for _ in range(ESCALATE):
        guard.process(generated, np.zeros(30, dtype=np.float32))
    logits = np.zeros(30, dtype=np.float32)
    logits[9] = -np.inf  # the grammar does not allow this quote token here
    guard.process(generated, logits)
    assert np.flatnonzero(np.isfinite(logits)).tolist() == [3]
    # no quote allowed at all (not inside a string): back to banning the loop's continuations
    logits = np.zeros(30, dtype=np.float32)
    logits[quotes] = -np.inf
    guard.process(generated, logits)
    assert logits[4] == -np.inf and np.isfinite(logits).sum() == 27
