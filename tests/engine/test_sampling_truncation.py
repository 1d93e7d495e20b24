"""Truncation in the sampler chain: top_k, min_p, top_p (nucleus) and where draws land."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from openmini.engine.sampling import Sampler, _nucleus
from openmini.types import SamplingParams


def rand_row(n: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def logits_for(probs: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.log(np.asarray(probs, dtype=np.float64)).astype(np.float32)


def draws(sampler: Sampler, logits: np.ndarray, k: int) -> list[int]:
    return [sampler.sample(logits.copy()).token for _ in range(k)]


# --- truncation: top_k, top_p, min_p -----------------------------------------------------------


def test_top_k_restricts_the_support() -> None:
    x = rand_row(500, seed=8, scale=0.3)  # flat: without top_k almost anything could come out
    s = Sampler(SamplingParams(temperature=1.0, top_k=4), 500, seed=3)
    top4 = set(np.argsort(-x)[:4].tolist())
    assert set(draws(s, x, 400)) == top4


def test_top_k_at_or_above_vocab_size_keeps_everything() -> None:
    x = np.zeros(6, dtype=np.float32)
    for k in (6, 100):
        s = Sampler(SamplingParams(temperature=1.0, top_k=k), 6, seed=k)
        assert set(draws(s, x, 300)) == set(range(6))


def test_top_k_draws_follow_the_renormalised_softmax() -> None:
    probs = np.array([0.05, 0.4, 0.15, 0.3, 0.1])
    s = Sampler(SamplingParams(temperature=1.0, top_k=2), 5, seed=21)
    got = draws(s, logits_for(probs), 4000)
    assert set(got) == {1, 3}
    assert got.count(1) / 4000 == pytest.approx(0.4 / 0.7, abs=0.03)


def test_top_p_keeps_exactly_the_nucleus() -> None:
    probs = [0.04, 0.4, 0.06, 0.3, 0.2]  # sorted: 1 (.4), 3 (.7), 4 (.9), 2, 0
    s = Sampler(SamplingParams(temperature=1.0, top_p=0.85), 5, seed=11)
    assert set(draws(s, logits_for(probs), 2000)) == {1, 3, 4}


def test_top_p_tiny_keeps_only_the_best_token() -> None:
    s = Sampler(SamplingParams(temperature=1.0, top_p=0.01), 5, seed=2)
    assert set(draws(s, logits_for([0.1, 0.2, 0.3, 0.25, 0.15]), 200)) == {2}


class FixedUniform:
    """Stands in for the sampler's generator: every draw is the same point of [0, 1)."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


def nucleus_by_sorting(probs: np.ndarray, top_p: float) -> set[int]:
    order = np.argsort(-probs, kind="stable")
    cut = int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1
    return set(order[:cut].tolist())


def flat_probs(n: int) -> np.ndarray:
    # strictly decreasing, nearly flat: a mass of 0.5 needs far more than 256 tokens
    p = np.exp(np.linspace(1.0, 0.0, n))
    return p / p.sum()


@pytest.mark.parametrize(("n", "top_p"), [(2000, 0.5), (2000, 0.95), (300, 0.9), (100, 0.5)])
def test_nucleus_over_all_candidates_is_exact(n: int, top_p: float) -> None:
    e = flat_probs(n)
    ids, w = _nucleus(np.arange(n), e.copy(), e, float(e.sum()), top_p)
    assert set(ids.tolist()) == nucleus_by_sorting(e, top_p)
    assert np.array_equal(w, e[ids])
    assert w.sum() >= top_p and w.sum() - w.min() < top_p  # the smallest such set


def test_nucleus_falls_back_to_the_whole_vocabulary() -> None:
    e = flat_probs(2000)
    few = np.argsort(-e)[:100]  # candidates holding far less than top_p of the mass
    ids, _ = _nucleus(few, e[few], e, float(e.sum()), 0.5)
    assert len(ids) > 256
    assert set(ids.tolist()) == nucleus_by_sorting(e, 0.5)


def test_top_p_nucleus_larger_than_256_candidates_when_sampling() -> None:
    n, top_p = 2000, 0.5
    probs = flat_probs(n)
    nucleus = nucleus_by_sorting(probs, top_p)
    assert len(nucleus) > 256
    s = Sampler(SamplingParams(temperature=1.0, top_p=top_p), n, seed=5)
    got = draws(s, np.log(probs).astype(np.float32), 3000)
    assert set(got) <= nucleus
    rank = {int(t): r for r, t in enumerate(np.argsort(-probs, kind="stable"))}
    assert max(rank[t] for t in got) > len(nucleus) - 30  # the whole nucleus is reachable


def test_top_p_nucleus_reaching_into_the_negligible_tail() -> None:
    x = np.full(2000, -21.0, dtype=np.float32)  # each below 1e-9 of the best token
    x[0] = 0.0
    e = np.exp(x - x.max()).astype(np.float64)
    nucleus = nucleus_by_sorting(e / e.sum(), 1 - 1e-6)
    assert 0 in nucleus and len(nucleus) > 500
    s = Sampler(SamplingParams(temperature=1.0, top_p=1 - 1e-6), 2000)
    s.rng = FixedUniform(0.9999999)  # lands past token 0's share, inside the nucleus
    token = s.sample(x.copy()).token
    assert token != 0 and token in nucleus


def test_top_p_after_top_k_uses_the_renormalised_distribution() -> None:
    probs = [0.4, 0.3, 0.2, 0.06, 0.04]  # top 3 renormalised: .44, .33, .22
    s = Sampler(SamplingParams(temperature=1.0, top_k=3, top_p=0.75), 5, seed=6)
    assert set(draws(s, logits_for(probs), 1000)) == {0, 1}


def test_min_p_drops_tokens_below_fraction_of_best() -> None:
    probs = [0.05, 0.5, 0.15, 0.3]  # threshold 0.2 * 0.5 = 0.1: token 0 is out
    s = Sampler(SamplingParams(temperature=1.0, min_p=0.2), 4, seed=9)
    assert set(draws(s, logits_for(probs), 1000)) == {1, 2, 3}


def test_min_p_with_top_k() -> None:
    probs = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    s = Sampler(SamplingParams(temperature=1.0, top_k=3, min_p=0.75), 5, seed=4)
    # among the top 3 (renormalised), only 0 and 1 reach 0.75 of the best
    assert set(draws(s, logits_for(probs), 500)) == {0, 1}


def test_top_p_applies_to_the_min_p_filtered_distribution() -> None:
    # min_p=0.5 keeps {0, 1} (mass 0.8); renormalised: 0.5625, 0.4375 -> top_p=0.5 keeps {0}
    s = Sampler(SamplingParams(temperature=1.0, min_p=0.5, top_p=0.5), 4, seed=1)
    assert set(draws(s, logits_for([0.45, 0.35, 0.1, 0.1]), 300)) == {0}


# --- a draw at the very top of [0, 1) ---------------------------------------------------------

TOP = float(np.nextafter(1.0, 0.0))  # the largest value Generator.random() returns


def test_top_of_unit_interval_without_tail_tokens() -> None:
    for n in range(10, 400):  # n = 73 is the first row that shows it here
        x = np.linspace(0.0, -20.0, n, dtype=np.float32)  # every token above the tail cut
        s = Sampler(SamplingParams(temperature=1.0), n)
        s.rng = FixedUniform(TOP)
        assert 0 <= s.sample(x).token < n


@pytest.mark.parametrize("kind", ["top_k", "min_p"])
def test_top_of_unit_interval_stays_in_the_truncated_support(kind: str) -> None:
    for n in range(10, 400):  # n = 282 is the first row that shows it here
        x = np.concatenate([np.linspace(0.0, -18.0, n, dtype=np.float32),
                            np.full(2, -60.0, dtype=np.float32)])  # tokens n, n + 1: the tail
        params = SamplingParams(top_k=n) if kind == "top_k" else SamplingParams(min_p=1e-8)
        s = Sampler(params, n + 2)
        s.rng = FixedUniform(TOP)
        assert s.sample(x).token < n, f"n={n}: drew a token outside the {kind} support"
