"""The sampler chain, built once per sequence and applied to that sequence's logits row.

Order: logit_bias -> penalties -> logits processors (grammar masks, safety) -> bad_words bans
at this position -> [logprobs are read here] -> temperature -> top_k -> min_p -> top_p -> draw.
All work is numpy on the row llama.cpp wrote; nothing allocates per vocabulary entry in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openmini.types import SamplingParams

# Tokens weighing less than this relative to the most likely one are left out of the candidate
# set; their total mass is still counted, and an untruncated draw can still land among them
# (exact). With top_k larger than the candidate set, tail tokens inside the top k are dropped:
# an error below top_k * 1e-9 of the mass.
_TAIL = 1e-9


# What `Sampler.sample` returns when bans left no token to choose (a dead end: backtrack).
NO_TOKEN = -1


class LogitsProcessor(Protocol):
    """The slot later stages plug into: change the logits in place, then see the chosen token.

    Optional methods, looked up with getattr: `finished() -> bool` (the output is complete;
    absent: never) and `rollback(n)` (forget the last n accepted tokens, for bad_words
    backtracking; absent: the processor keeps no state of its own, e.g. it reads `generated`).
    """

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
        # image placeholders (ids < 0: engine/images.py) are no vocabulary entries
        self._seen_prompt = ({t for t in prompt_tokens if t >= 0}
                             if params.repetition_penalty != 1.0 else set())
        ids = [t for t, _ in params.logit_bias if 0 <= t < n_vocab]
        self._bias_ids = np.array(ids, dtype=np.int64)
        self._bias_vals = np.array([b for t, b in params.logit_bias if 0 <= t < n_vocab],
                                   dtype=np.float32)
        self._penalize = (params.frequency_penalty != 0.0 or params.presence_penalty != 0.0
                          or params.repetition_penalty != 1.0)
        self._want_logprobs = params.logprobs or params.top_logprobs > 0
        self._bans: dict[int, set[int]] = {}  # generated position -> tokens excluded there

    def sample(self, logits: np.ndarray) -> Draw:
        x = logits  # llama.cpp's row for this step; modified in place
        if self._bias_ids.size:
            x[self._bias_ids] += self._bias_vals
        if self._penalize:
            self._apply_penalties(x)
        for proc in self.processors:
            proc.process(self.generated, x)
        if self._bans and self._apply_bans(x):
            return Draw(NO_TOKEN)
        lse = _logsumexp(x) if self._want_logprobs else 0.0
        token = self._choose(x)
        draw = Draw(token)
        if self._want_logprobs:
            draw.logprob = float(x[token] - lse)
            k = self.p.top_logprobs
            if k > 0:
                top = _top(x, k)
                draw.top = [(int(t), float(x[t] - lse)) for t in top if np.isfinite(x[t])]
        return draw

    def finished(self) -> bool:
        """A processor (a grammar) says the output is complete."""
        return any(getattr(proc, "finished", _never)() for proc in self.processors)

    def accept(self, token: int) -> None:
        self.generated.append(token)
        self._counts[token] = self._counts.get(token, 0) + 1
        for proc in self.processors:
            proc.accept(token)

    # --- backtracking (bad_words) ----------------------------------------------------------

    def ban(self, position: int, token: int) -> None:
        """Exclude `token` at generated `position` while the tokens before it stay the same."""
        self._bans.setdefault(position, set()).add(token)

    def rollback(self, n: int) -> None:
        """Forget the last n accepted tokens: penalty counts, processors (grammar state), and
        the bans past the new end (they were made for a prefix that no longer exists)."""
        if n <= 0:
            return
        for token in self.generated[-n:]:
            left = self._counts[token] - 1
            if left:
                self._counts[token] = left
            else:
                del self._counts[token]
        del self.generated[-n:]
        for proc in self.processors:
            getattr(proc, "rollback", _stateless)(n)
        end = len(self.generated)
        self._bans = {pos: toks for pos, toks in self._bans.items() if pos <= end}

    def _apply_bans(self, x: np.ndarray) -> bool:
        """Mask this position's banned tokens; True when nothing is left to choose."""
        banned = self._bans.get(len(self.generated))
        if not banned:
            return False
        x[np.fromiter(banned, dtype=np.int64, count=len(banned))] = -np.inf
        return not bool(np.isfinite(x.max()))

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
        # One pass over the vocabulary: weights relative to the most likely token.
        e = np.exp((x - x.max()) * np.float32(1.0 / p.temperature))
        total = float(e.sum(dtype=np.float64))
        ids = np.flatnonzero(e >= max(_TAIL, p.min_p))  # min_p is exact here: max weight is 1
        w = e[ids].astype(np.float64)
        if 0 < p.top_k < ids.shape[0]:
            keep = np.argpartition(-w, p.top_k - 1)[: p.top_k]
            ids, w = ids[keep], w[keep]
        truncated = p.top_k > 0 or p.min_p > 0.0
        if p.top_p < 1.0:
            ids, w = _nucleus(ids, w, e, w.sum() if truncated else total, p.top_p)
            truncated = True
        cdf = np.cumsum(w)
        u = self.rng.random() * (float(cdf[-1]) if truncated else max(total, float(cdf[-1])))
        if u < cdf[-1] or ids.shape[0] == e.shape[0]:
            return int(ids[min(int(np.searchsorted(cdf, u, side="right")), ids.shape[0] - 1)])
        return self._draw_tail(e, u - float(cdf[-1]))

    def _draw_tail(self, e: np.ndarray, u: float) -> int:
        """The rare draw that lands among the tokens below the candidate threshold."""
        tail = np.flatnonzero(e < _TAIL)
        if tail.shape[0] == 0:  # rounding put u past the candidates: take the last one
            return int(np.argmin(e))
        cdf = np.cumsum(e[tail], dtype=np.float64)
        return int(tail[min(int(np.searchsorted(cdf, u, side="right")), tail.shape[0] - 1)])


def _nucleus(ids: np.ndarray, w: np.ndarray, e: np.ndarray, mass: float, top_p: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """The smallest set of most likely tokens whose share of `mass` reaches top_p."""
    order = np.argsort(-w, kind="stable")
    cum = np.cumsum(w[order])
    if cum[-1] < top_p * mass:  # candidates hold too little: sort the whole vocabulary
        ids = np.argsort(-e, kind="stable")
        w = e[ids].astype(np.float64)
        order = np.arange(ids.shape[0])
        cum = np.cumsum(w)
    cut = min(int(np.searchsorted(cum, top_p * mass)) + 1, order.shape[0])
    return ids[order[:cut]], w[order[:cut]]


def _never() -> bool:
    return False


def _stateless(n: int) -> None:
    """The rollback of a processor that keeps no state of its own."""


def _logsumexp(x: np.ndarray) -> float:
    m = float(x.max())
    return m + float(np.log(np.exp(x - m).sum(dtype=np.float64)))


def _top(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest logits, best first (cheap when the head is sharp)."""
    head = np.flatnonzero(x >= x.max() - 15.0)
    pool = head if head.shape[0] >= k else np.arange(x.shape[0])
    top = pool[np.argpartition(-x[pool], k - 1)[:k]] if pool.shape[0] > k else pool
    return top[np.argsort(-x[top], kind="stable")]
