"""The grammar mask as a logits processor for the engine's sampler chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class GrammarProcessor:
    """Masks every token the grammar does not allow; advances the matcher on each token."""

    def __init__(self, matcher: Any, n_vocab: int):
        from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

        self.matcher = matcher
        self.n_vocab = n_vocab
        self._fill = fill_next_token_bitmask
        self._mask = allocate_token_bitmask(1, n_vocab)
        self._bits = self._mask[0].view(np.uint8)

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        self._fill(self.matcher, self._mask)
        allowed = np.unpackbits(self._bits, bitorder="little", count=self.n_vocab)
        logits[allowed == 0] = -np.inf

    def accept(self, token: int) -> None:
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"grammar rejected token {token}: {self.matcher.get_error()}")

    def rollback(self, n: int) -> None:
        """Forget the last n accepted tokens (bad_words backtracking)."""
        if n and not self.matcher.rollback(n):
            raise RuntimeError(f"grammar could not roll back {n} tokens: "
                               f"{self.matcher.get_error()}")

    def finished(self) -> bool:
        """The grammar is complete: nothing but end-of-sequence may follow."""
        return bool(self.matcher.is_stopped())
