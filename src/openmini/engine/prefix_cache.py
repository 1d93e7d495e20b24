"""Prefix cache over a unified KV cache.

A finished sequence's KV cells are kept under its sequence id as a cache entry. A new request
copies the longest matching prefix from an entry with `llama_memory_seq_cp`, which shares the
cells instead of recomputing them. Entries are evicted least-recently-used first, bounded by a
token budget and an entry count; the caller frees evicted sequence ids in llama's memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from openmini.engine.images import ImageSpan, Span, verified_prefix


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    m = min(a.shape[0], b.shape[0])
    if m == 0:
        return 0
    diff = np.flatnonzero(a[:m] != b[:m])
    return int(diff[0]) if diff.size else m


@dataclass(slots=True)
class Entry:
    seq_id: int
    tokens: np.ndarray
    last_used: int = 0
    images: tuple[Span, ...] = ()  # (start, digest) of the images among its cells
    background: bool = False  # left by a batch line, and no live request has used it since


@dataclass(slots=True)
class PrefixCache:
    budget_tokens: int
    max_entries: int
    entries: dict[int, Entry] = field(default_factory=dict)
    _clock: itertools.count = field(default_factory=itertools.count)
    hits_tokens: int = 0
    lookup_tokens: int = 0

    @property
    def size_tokens(self) -> int:
        return sum(e.tokens.shape[0] for e in self.entries.values())

    def lookup(self, prompt: np.ndarray, images: Sequence[ImageSpan] = (),
               background: bool = False) -> tuple[int | None, int]:
        """The entry sharing the longest prefix with `prompt` (its images the same ones:
        engine/images.py), and that prefix's length. A live request's hit makes the entry
        live."""
        best_id, best_len = None, 0
        for entry in self.entries.values():
            n = common_prefix(entry.tokens, prompt)
            if images:
                n = verified_prefix(n, images, entry.images)
            if n > best_len:
                best_id, best_len = entry.seq_id, n
        if best_id is not None:
            self.entries[best_id].last_used = next(self._clock)
            self.entries[best_id].background &= background
        return best_id, best_len

    def record(self, prompt_len: int, reused: int) -> None:
        self.lookup_tokens += prompt_len
        self.hits_tokens += reused

    def add(self, seq_id: int, tokens: np.ndarray, images: tuple[Span, ...] = (),
            background: bool = False) -> list[int]:
        """Keep `seq_id`'s cells as an entry (`background`: a batch line's). Returns sequence
        ids the caller must free, possibly including `seq_id` itself when it adds nothing
        new."""
        if tokens.shape[0] == 0 or self.budget_tokens <= 0 or self.max_entries <= 0:
            return [seq_id]
        drop: list[int] = []
        for entry in list(self.entries.values()):
            shared = common_prefix(entry.tokens, tokens)
            if (images or entry.images) and shared:
                shared = _same_images(shared, images, entry.images)
            if shared == tokens.shape[0]:  # the new one is contained in an entry
                entry.last_used = next(self._clock)
                return [seq_id]
            if shared == entry.tokens.shape[0]:  # an entry is contained in the new one
                drop.append(entry.seq_id)
                del self.entries[entry.seq_id]
                background &= entry.background  # it keeps what live traffic reused
        self.entries[seq_id] = Entry(seq_id, tokens, next(self._clock), images, background)
        drop.extend(self._evict_over_budget())
        return drop

    def evict_lru(self) -> int | None:
        """The least recently used entry goes; batch lines' entries before any live one, so
        a batch churning through the cache never evicts what live traffic reuses (a
        conversation, the chat template's system prompt)."""
        if not self.entries:
            return None
        victim = min(self.entries.values(), key=lambda e: (not e.background, e.last_used))
        del self.entries[victim.seq_id]
        return victim.seq_id

    def _evict_over_budget(self) -> list[int]:
        freed: list[int] = []
        while self.entries and (
            self.size_tokens > self.budget_tokens or len(self.entries) > self.max_entries
        ):
            victim = self.evict_lru()
            if victim is not None:
                freed.append(victim)
        return freed

    def hit_rate(self) -> float:
        return self.hits_tokens / self.lookup_tokens if self.lookup_tokens else 0.0


def _same_images(n: int, a: tuple[Span, ...], b: tuple[Span, ...]) -> int:
    """A shared prefix of n cells, cut at the first image the two do not share."""
    for span in sorted(set(a) ^ set(b)):
        if span[0] < n:
            return span[0]
    return n
