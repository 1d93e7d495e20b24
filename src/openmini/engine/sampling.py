"""The sampler chain, built once per sequence and applied to that sequence's logits row.

Order: logit_bias -> penalties -> logits processors (grammar masks, banned phrases, safety)
-> [logprobs are read here] -> temperature -> top_k -> min_p -> top_p -> draw.
All work is numpy on the row llama.cpp wrote; nothing allocates per vocabulary entry in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openmini.types import SamplingParams

_NUCLEUS_FIRST_TRY = 256


class LogitsProcessor(Protocol):
    """The slot later stages plug into: change the logits in place, then see the chosen token."""

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None: ...

    def accept(self, token: int) -> None: ...


@dataclass(slots=True)
class Draw:
    token: int
    logprob: float | None = None
    top: list[tuple[int, float]] | None = None


class Sampler:
    def __init__(
        self,
        params: SamplingParams,
        n_vocab: int,
        prompt_tokens: Sequence[int] = (),
        processors: Sequence[LogitsProcessor] = (),
        seed: int | None = None,
    ):
        self.p = params
        self.processors = list(processors)
        self.rng = np.random.default_rng(seed)
        self.generated: list[int] = []
        self._counts: dict[int, int] = {}
        self._seen_prompt = set(prompt_tokens) if params.repetition_penalty != 1.0 else set()
        ids = [t for t, _ in params.logit_bias if 0 <= t < n_vocab]
        self._bias_ids = np.array(ids, dtype=np.int64)
        self._bias_vals = np.array([b for t, b in params.logit_bias if 0 <= t < n_vocab],
                                   dtype=np.float32)
        self._penalize = (params.frequency_penalty != 0.0 or params.presence_penalty != 0.0
                          or params.repetition_penalty != 1.0)
        self._want_logprobs = params.logprobs or params.top_logprobs > 0

    def sample(self, logits: np.ndarray) -> Draw:
        x = logits  # llama.cpp's row for this step; modified in place
        if self._bias_ids.size:
            x[self._bias_ids] += self._bias_vals
        if self._penalize:
            self._apply_penalties(x)
        for proc in self.processors:
            proc.process(self.generated, x)
        lse = _logsumexp(x) if self._want_logprobs else 0.0
        token = self._choose(x)
        draw = Draw(token)
        if self._want_logprobs:
            draw.logprob = float(x[token] - lse)
            k = self.p.top_logprobs
            if k > 0:
                top = np.argpartition(-x, k - 1)[:k]
                top = top[np.argsort(-x[top])]
                draw.top = [(int(t), float(x[t] - lse)) for t in top]
        return draw

    def accept(self, token: int) -> None:
        self.generated.append(token)
        self._counts[token] = self._counts.get(token, 0) + 1
        for proc in self.processors:
            proc.accept(token)

    def _apply_penalties(self, x: np.ndarray) -> None:
        p = self.p
        if self._counts and (p.frequency_penalty or p.presence_penalty):
            ids = np.fromiter(self._counts.keys(), dtype=np.int64, count=len(self._counts))
            cnt = np.fromiter(self._counts.values(), dtype=np.float32, count=len(self._counts))
            x[ids] -= p.frequency_penalty * cnt + p.presence_penalty
        if p.repetition_penalty != 1.0:
            seen = self._seen_prompt | self._counts.keys()
            if seen:
                ids = np.fromiter(seen, dtype=np.int64, count=len(seen))
                vals = x[ids]
                x[ids] = np.where(vals > 0, vals / p.repetition_penalty,
                                  vals * p.repetition_penalty)

    def _choose(self, x: np.ndarray) -> int:
        p = self.p
        if p.temperature <= 0.0 or p.top_k == 1:
            return int(np.argmax(x))
        ids, logits = _candidates(x, p.top_k)
        z = logits / p.temperature
        z = z - z.max()
        probs = np.exp(z)
        probs /= probs.sum()
        keep = np.ones(probs.shape[0], dtype=bool)
        if p.min_p > 0.0:
            keep &= probs >= p.min_p * probs.max()
        if p.top_p < 1.0:
            keep &= _nucleus(probs, p.top_p)
        probs = np.where(keep, probs, 0.0)
        probs /= probs.sum()
        choice = int(self.rng.choice(probs.shape[0], p=probs))
        return int(ids[choice]) if ids is not None else choice


def _candidates(x: np.ndarray, top_k: int) -> tuple[np.ndarray | None, np.ndarray]:
    """The logits worth sampling from: top_k of them, or all of them."""
    if 0 < top_k < x.shape[0]:
        ids = np.argpartition(-x, top_k - 1)[:top_k]
        return ids, x[ids].astype(np.float64)
    return None, x.astype(np.float64)


def _nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Mask of the smallest set of most likely tokens whose mass reaches top_p."""
    n = probs.shape[0]
    k = min(_NUCLEUS_FIRST_TRY, n)
    order = np.argpartition(-probs, k - 1)[:k] if k < n else np.arange(n)
    order = order[np.argsort(-probs[order], kind="stable")]
    if probs[order].sum() < top_p and k < n:
        order = np.argsort(-probs, kind="stable")
    cum = np.cumsum(probs[order])
    cut = int(np.searchsorted(cum, top_p)) + 1
    mask = np.zeros(n, dtype=bool)
    mask[order[:cut]] = True
    return mask


def _logsumexp(x: np.ndarray) -> float:
    m = float(x.max())
    return m + float(np.log(np.exp(x - m, dtype=np.float64).sum()))
