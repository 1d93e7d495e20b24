"""The sampler chain on small hand-made logits rows (no model): greedy, logit_bias, penalties,
seeds, the sampled distribution, logprobs and custom processors. Truncation (top_k, min_p,
top_p) is in test_sampling_truncation.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from openmini.engine.sampling import Sampler
from openmini.types import SamplingParams


def row(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def rand_row(n: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def draws(sampler: Sampler, logits: np.ndarray, k: int) -> list[int]:
    return [sampler.sample(logits.copy()).token for _ in range(k)]


def processed(sampler: Sampler, logits: np.ndarray) -> np.ndarray:
    """Log-softmax of the processed row, read back through full-vocabulary top logprobs."""
    assert sampler.p.top_logprobs == logits.shape[0]
    top = sampler.sample(logits.copy()).top
    assert top is not None
    out = np.empty(logits.shape[0])
    for t, lp in top:
        out[t] = lp
    return out


# --- greedy, top_k=1, logit_bias ---------------------------------------------------------------


@pytest.mark.parametrize("n_vocab", [50, 2000])
def test_temperature_zero_is_argmax(n_vocab: int) -> None:
    x = rand_row(n_vocab, seed=n_vocab)
    s = Sampler(SamplingParams(temperature=0.0), n_vocab, seed=1)
    assert draws(s, x, 5) == [int(np.argmax(x))] * 5


def test_top_k_one_is_argmax_even_with_high_temperature() -> None:
    x = rand_row(300, seed=3)
    s = Sampler(SamplingParams(temperature=5.0, top_k=1), 300, seed=7)
    assert set(draws(s, x, 50)) == {int(np.argmax(x))}


def test_logit_bias_plus_100_forces_a_token() -> None:
    x = rand_row(100, seed=4)
    target = int(np.argmin(x))
    s = Sampler(SamplingParams(temperature=1.0, logit_bias=((target, 100.0),)), 100, seed=0)
    assert set(draws(s, x, 100)) == {target}


def test_logit_bias_minus_100_bans_a_token() -> None:
    x = row([5.0, 4.9, 0.0, 0.0, 0.0])
    s = Sampler(SamplingParams(temperature=1.0, logit_bias=((0, -100.0),)), 5, seed=0)
    got = draws(s, x, 300)
    assert 0 not in got and 1 in got
    greedy = Sampler(SamplingParams(temperature=0.0, logit_bias=((0, -100.0),)), 5)
    assert greedy.sample(x.copy()).token == 1


def test_logit_bias_ignores_out_of_range_ids() -> None:
    x = row([0.0, 3.0, 1.0])
    s = Sampler(SamplingParams(temperature=0.0, logit_bias=((-1, 50.0), (3, 50.0))), 3)
    assert s.sample(x.copy()).token == 1


# --- penalties ---------------------------------------------------------------------------------


def test_presence_penalty_makes_greedy_move_off_a_repeated_token() -> None:
    x = row([0.0, 2.0, 1.5, 0.0])
    s = Sampler(SamplingParams(temperature=0.0, presence_penalty=1.0), 4)
    assert s.sample(x.copy()).token == 1
    s.accept(1)
    assert s.sample(x.copy()).token == 2


def test_frequency_penalty_scales_with_count_presence_does_not() -> None:
    n = 6
    x = rand_row(n, seed=5, scale=1.0)
    base = log_softmax(x)
    freq = Sampler(SamplingParams(temperature=0.0, frequency_penalty=0.5, top_logprobs=n), n)
    pres = Sampler(SamplingParams(temperature=0.0, presence_penalty=0.7, top_logprobs=n), n)
    for s in (freq, pres):
        for token in (3, 3, 3, 1):
            s.accept(token)
    got_f, got_p = processed(freq, x), processed(pres, x)
    # relative to an untouched token (0): token 3 seen 3 times, token 1 once
    assert got_f[3] - got_f[0] == pytest.approx(base[3] - base[0] - 1.5, abs=1e-5)
    assert got_f[1] - got_f[0] == pytest.approx(base[1] - base[0] - 0.5, abs=1e-5)
    assert got_p[3] - got_p[0] == pytest.approx(base[3] - base[0] - 0.7, abs=1e-5)
    assert got_p[1] - got_p[0] == pytest.approx(base[1] - base[0] - 0.7, abs=1e-5)


def test_no_penalty_before_anything_is_accepted() -> None:
    x = rand_row(8, seed=6)
    s = Sampler(SamplingParams(frequency_penalty=2.0, presence_penalty=2.0, top_logprobs=8), 8)
    assert np.allclose(processed(s, x), log_softmax(x), atol=1e-5)


def test_repetition_penalty_over_prompt_and_generated_tokens() -> None:
    x = row([2.0, 2.0, -1.0, -1.0, 1.0, 0.5])
    params = SamplingParams(temperature=0.0, repetition_penalty=2.0, top_logprobs=6)
    s = Sampler(params, 6, prompt_tokens=[0, 2])
    s.accept(5)
    got = processed(s, x)
    expected = log_softmax(row([1.0, 2.0, -2.0, -1.0, 1.0, 0.25]))
    assert np.allclose(got, expected, atol=1e-5)


def test_repetition_penalty_one_ignores_the_prompt() -> None:
    x = row([3.0, 1.0, 0.0])
    s = Sampler(SamplingParams(temperature=0.0, repetition_penalty=1.0), 3, prompt_tokens=[0])
    assert s.sample(x.copy()).token == 0


# --- seeds and the distribution ----------------------------------------------------------------


def test_same_seed_same_draws_different_seed_differs() -> None:
    x = rand_row(64, seed=12, scale=0.5)
    params = SamplingParams(temperature=1.0)
    a = draws(Sampler(params, 64, seed=42), x, 50)
    b = draws(Sampler(params, 64, seed=42), x, 50)
    c = draws(Sampler(params, 64, seed=43), x, 50)
    assert a == b
    assert a != c


def test_temperature_one_matches_softmax() -> None:
    x = row([1.0, 0.5, 0.0, -0.5, 2.0])
    expected = np.exp(log_softmax(x))
    k = 20_000
    counts = Counter(draws(Sampler(SamplingParams(temperature=1.0), 5, seed=2024), x, k))
    observed = np.array([counts[i] for i in range(5)])
    chi2 = float((((observed - k * expected) ** 2) / (k * expected)).sum())
    assert chi2 < 18.47  # chi-square, 4 degrees of freedom, p = 0.001


def test_low_temperature_sharpens() -> None:
    x = row([1.0, 0.8, 0.0])
    hot = Counter(draws(Sampler(SamplingParams(temperature=1.0), 3, seed=1), x, 2000))
    cold = Counter(draws(Sampler(SamplingParams(temperature=0.1), 3, seed=1), x, 2000))
    assert cold[0] > hot[0]
    expected_cold = np.exp(log_softmax(x / 0.1))[0]
    assert cold[0] / 2000 == pytest.approx(expected_cold, abs=0.03)


# --- logprobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.5])
def test_logprob_is_log_softmax_of_processed_logits(temperature: float) -> None:
    x = rand_row(200, seed=13)
    params = SamplingParams(temperature=temperature, logprobs=True, top_logprobs=5,
                            logit_bias=((17, 2.5),))
    s = Sampler(params, 200, seed=0)
    biased = x.copy()
    biased[17] += 2.5
    expected = log_softmax(biased)
    for _ in range(10):
        d = s.sample(x.copy())
        assert d.logprob == pytest.approx(expected[d.token], abs=1e-5)
        assert d.top is not None and len(d.top) == 5
        lps = [lp for _, lp in d.top]
        assert lps == sorted(lps, reverse=True)
        assert [t for t, _ in d.top] == np.argsort(-expected)[:5].tolist()
        assert all(lp == pytest.approx(expected[t], abs=1e-5) for t, lp in d.top)


def test_top_logprobs_over_full_vocab_sum_to_one() -> None:
    x = rand_row(120, seed=14)
    d = Sampler(SamplingParams(top_logprobs=120), 120, seed=0).sample(x.copy())
    assert d.top is not None and len(d.top) == 120
    assert sorted(t for t, _ in d.top) == list(range(120))
    assert sum(np.exp(lp) for _, lp in d.top) == pytest.approx(1.0, abs=1e-6)


def test_top_logprobs_with_a_sharp_head_and_more_than_the_vocab() -> None:
    x = row([-50.0, 0.0, -16.0, -30.0, -17.0, -60.0])  # only token 1 within 15 of the best
    d = Sampler(SamplingParams(temperature=0.0, top_logprobs=4), 6).sample(x.copy())
    assert d.top is not None and [t for t, _ in d.top] == [1, 2, 4, 3]
    assert d.top[0][1] == pytest.approx(log_softmax(x)[1], abs=1e-6)
    d = Sampler(SamplingParams(temperature=0.0, top_logprobs=10), 6).sample(x.copy())
    assert d.top is not None and [t for t, _ in d.top] == [1, 2, 4, 3, 0, 5]


def test_logprobs_off_and_logprobs_without_top() -> None:
    x = rand_row(50, seed=15)
    off = Sampler(SamplingParams(), 50, seed=0).sample(x.copy())
    assert off.logprob is None and off.top is None
    only = Sampler(SamplingParams(logprobs=True), 50, seed=0).sample(x.copy())
    assert only.logprob is not None and only.top is None


# --- custom processors -------------------------------------------------------------------------


class BanAndRecord:
    def __init__(self, banned: int):
        self.banned = banned
        self.seen: list[list[int]] = []
        self.accepted: list[int] = []

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        self.seen.append(list(generated))
        logits[self.banned] = -np.inf

    def accept(self, token: int) -> None:
        self.accepted.append(token)


def test_custom_processor_sees_history_and_masks_tokens() -> None:
    x = row([0.0, 5.0, 4.0, 3.0])
    proc = BanAndRecord(banned=1)
    s = Sampler(SamplingParams(temperature=0.0, presence_penalty=10.0, logprobs=True), 4,
                processors=[proc])
    tokens = []
    for _ in range(3):
        d = s.sample(x.copy())
        assert d.token != 1
        s.accept(d.token)
        tokens.append(d.token)
    assert tokens == [2, 3, 0]  # presence penalty walks down; the ban holds throughout
    assert proc.seen == [[], [2], [2, 3]]
    assert proc.accepted == tokens == s.generated


def test_masked_tokens_are_left_out_of_top_logprobs() -> None:
    proc = BanAndRecord(banned=0)
    s = Sampler(SamplingParams(temperature=1.0, top_logprobs=3), 3, processors=[proc], seed=0)
    d = s.sample(row([9.0, 0.0, 0.0]))
    assert d.token in (1, 2)
    assert d.top is not None and [t for t, _ in d.top] in ([1, 2], [2, 1])  # no -inf entry
    assert all(np.isfinite(lp) for _, lp in d.top)  # JSON cannot carry -Infinity
    assert sum(np.exp(lp) for _, lp in d.top) == pytest.approx(1.0)
