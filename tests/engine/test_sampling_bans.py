"""The sampler's part in bad_words backtracking: per-position bans, dead ends, and rolling
back penalty counts and processors (no model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmini.engine.sampling import NO_TOKEN, Sampler
from openmini.types import SamplingParams


def row(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


LOGITS = row([0.0, 3.0, 2.0, 1.0])


def greedy(**kw: object) -> Sampler:
    return Sampler(SamplingParams(temperature=0.0, **kw), 4)  # type: ignore[arg-type]


def test_ban_applies_only_at_its_position() -> None:
    s = greedy()
    s.ban(1, 1)
    assert s.sample(LOGITS.copy()).token == 1  # position 0: not banned
    s.accept(1)
    assert s.sample(LOGITS.copy()).token == 2  # position 1: token 1 is banned
    s.accept(2)
    assert s.sample(LOGITS.copy()).token == 1


def test_banned_tokens_get_no_probability_and_logprobs_renormalise() -> None:
    s = Sampler(SamplingParams(temperature=1.0, seed=0, logprobs=True, top_logprobs=4), 4)
    s.ban(0, 1)
    draws = [s.sample(LOGITS.copy()) for _ in range(200)]
    assert all(d.token != 1 for d in draws)
    top = draws[0].top or []
    assert 1 not in [t for t, _ in top]  # -inf entries are left out
    assert abs(sum(np.exp(lp) for _, lp in top) - 1.0) < 1e-5


def test_every_candidate_banned_is_a_dead_end_not_a_crash() -> None:
    s = greedy()
    for t in range(4):
        s.ban(0, t)
    assert s.sample(LOGITS.copy()).token == NO_TOKEN
    masked = row([-np.inf, 1.0, -np.inf, -np.inf])  # a grammar allowing only token 1
    s = Sampler(SamplingParams(temperature=0.7, seed=1), 4)
    s.ban(0, 1)
    assert s.sample(masked).token == NO_TOKEN


def test_rollback_restores_penalty_counts() -> None:
    kw = dict(frequency_penalty=1.5, presence_penalty=0.5, repetition_penalty=1.3)
    fresh, used = greedy(**kw), greedy(**kw)
    fresh.accept(2)
    for t in (2, 1, 1, 3):
        used.accept(t)
    used.rollback(3)
    assert used.generated == [2]
    x, y = LOGITS.copy(), LOGITS.copy()
    fresh.sample(x)
    used.sample(y)
    assert np.array_equal(x, y)
    used.rollback(0)
    assert used.generated == [2]


def test_rollback_keeps_bans_at_the_new_end_and_drops_later_ones() -> None:
    s = greedy()
    for t in (1, 1, 1):
        s.accept(t)
    s.ban(1, 1)
    s.ban(3, 2)
    s.rollback(2)
    assert s.sample(LOGITS.copy()).token == 2  # the ban at position 1 stays
    s.accept(2)
    s.accept(3)
    assert s.sample(LOGITS.copy()).token == 1  # the ban at position 3 was dropped


class Recorder:
    def __init__(self) -> None:
        self.tokens: list[int] = []

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        assert list(generated) == self.tokens

    def accept(self, token: int) -> None:
        self.tokens.append(token)

    def rollback(self, n: int) -> None:
        del self.tokens[len(self.tokens) - n:]


class Stateless:
    """No rollback method: a processor that keeps no state of its own."""

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None: ...

    def accept(self, token: int) -> None: ...


def test_processors_roll_back_with_the_sampler() -> None:
    proc = Recorder()
    s = Sampler(SamplingParams(temperature=0.0), 4, processors=[proc, Stateless()])
    for t in (1, 2, 3):
        s.accept(t)
    s.rollback(2)
    assert proc.tokens == [1] and s.generated == [1]
    s.sample(LOGITS.copy())  # the processor sees the same history as the sampler
