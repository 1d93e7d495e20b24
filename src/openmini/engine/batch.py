"""A reusable llama_batch filled through numpy views (no per-token Python objects)."""

from __future__ import annotations

from collections.abc import Sequence

import llama_cpp as ll
import numpy as np


class Batch:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.raw = ll.llama_batch_init(capacity, 0, 1)
        self.tokens = np.ctypeslib.as_array(self.raw.token, shape=(capacity,))
        self.pos = np.ctypeslib.as_array(self.raw.pos, shape=(capacity,))
        self.n_seq_id = np.ctypeslib.as_array(self.raw.n_seq_id, shape=(capacity,))
        self.logits = np.ctypeslib.as_array(self.raw.logits, shape=(capacity,))
        self._seq_ptrs = [self.raw.seq_id[i] for i in range(capacity)]
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    @property
    def free(self) -> int:
        return self.capacity - self.n

    def add(self, tokens: Sequence[int], start_pos: int, seq_id: int, want_last: bool) -> int:
        """Append tokens of one sequence; returns the batch index of the last token."""
        k = len(tokens)
        i = self.n
        if k == 0 or i + k > self.capacity:
            raise ValueError("batch overflow")
        self.tokens[i:i + k] = tokens
        self.pos[i:i + k] = np.arange(start_pos, start_pos + k, dtype=np.int32)
        self.n_seq_id[i:i + k] = 1
        self.logits[i:i + k] = 0
        if want_last:
            self.logits[i + k - 1] = 1
        for j in range(i, i + k):
            self._seq_ptrs[j][0] = seq_id
        self.n = i + k
        return i + k - 1

    def submit(self) -> ll.llama_batch:
        self.raw.n_tokens = self.n
        return self.raw

    def close(self) -> None:
        ll.llama_batch_free(self.raw)
