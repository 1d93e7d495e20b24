"""Call or answer in text: decided once, on the model's whole distribution, at the first token.

In `tool_choice: "auto"` the grammar lets the first answer token open a call (the call tag,
or a JSON call: `{`, `[`, a ```json fence) or start prose. Left to the token's argmax, a small
model calls almost always: its probability on "call" sits on one or two tokens (``` at 68% on
Qwen2.5-Coder-0.5B), while its probability on "answer in text" is spread over many ("I",
"The", "Sorry", ...), so a prose token rarely wins even when prose as a whole is likely (BFCL
irrelevance on `fast`: 18 of 20 calls with no fitting tool). `TextDecision` decides between the
two classes instead: it sums the probability (after the grammar mask, at temperature 1) of
every allowed token that starts prose, and when that share reaches the model's threshold the
answer is text (every call opening is masked for that token), otherwise it is a call (every
prose token is masked). The model writes the rest as usual: prose may still end in a call tag,
as the grammar allows.

The threshold is a property of the model: the share of prose it puts first when no declared
tool fits, measured on held-out BFCL cases (`bench/tool_decision.py`) and kept in the model
catalogue; the engine setting `tool_text_threshold` overrides it. 1 leaves the choice to the
first token's argmax (the grammar alone).

The model may also start to spell the tag in plain text (`<`, `<t`: Qwen2.5 puts 4-13% of its
first token there in auto mode), which the grammar can only read as prose, and which would
turn a call into text. Those tokens count towards the call, and are masked either way: a text
answer then starts elsewhere, a call opens with the real tag or as JSON.

Used only where a call opens on a token of its own: with special call-tag tokens (Qwen2.5);
where the tag is plain text the call is found lazily and no single token decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TextDecision:
    """At the answer's first token, keep only prose or only call openings (see module doc).
    `p_text` holds the share it decided on (None before); `text` the outcome."""

    def __init__(self, opens_call: np.ndarray, spelled: np.ndarray, threshold: float) -> None:
        self._opens_call = opens_call  # bool over the vocabulary
        self._spelled = spelled  # bool: prefixes of the tag in plain text (and not openers)
        self.threshold = threshold
        self.p_text: float | None = None
        self.text: bool | None = None
        self._since: int | None = None  # tokens accepted since the decision; None: not yet

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        if self._since is not None:
            return
        allowed = np.isfinite(logits)
        call = allowed & self._opens_call
        spelled = allowed & self._spelled & ~call
        prose = allowed & ~call & ~spelled
        if not prose.any() or not call.any():  # nothing to decide: the grammar has
            return
        top = float(logits[allowed].max())
        weights = np.exp(logits[allowed] - top, dtype=np.float64)
        self.p_text = float(weights[prose[allowed]].sum() / weights.sum())
        self.text = self.p_text >= self.threshold
        logits[(call if self.text else prose) | spelled] = -np.inf
        self._since = 0

    def accept(self, token: int) -> None:
        if self._since is not None:
            self._since += 1

    def rollback(self, n: int) -> None:
        """bad_words backtracking that takes back the deciding token decides again."""
        if self._since is not None:
            self._since -= n
            if self._since <= 0:
                self._since = None


def spelled_tag(tag: str) -> bytes:
    """A bytes regex for the non-empty prefixes of `tag` (`<`, `<t`, ..., the whole tag)."""
    import re

    body = "".join(f"({re.escape(c)}" for c in tag[1:]) + ")?" * (len(tag) - 1)
    return (re.escape(tag[0]) + body).encode()


def token_mask(n_vocab: int, *groups: np.ndarray | int | None) -> np.ndarray:
    """A bool mask over the vocabulary, true at the given ids."""
    mask = np.zeros(n_vocab, dtype=bool)
    for ids in groups:
        if ids is not None:
            mask[ids] = True
    return mask
