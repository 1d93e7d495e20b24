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

``` counts as a call opening, though the grammar also lets it open a code block (a coding model
asked for code with tools on offer writes ``` first): decided "call", the model may go on
with ```json (a call) or ```python (a code answer), but not with a bare fence or a symbol
(`Fence`: the info string must start with a letter). That is where a call decided on ```
turned into text holding calls (sampled BFCL on `fast`: "```\\njson\\n{...}" and
"```\\n```\\n{...}", 2 of 180 simple answers; with the bare fence masked, "```.\\n{...}");
a code answer names its language.

Where the model's catalogue entry has a fit weight, the model is also asked outright whether
a provided function fits (tools/relevance.py) before the answer starts, and its answer leans
the decision: text when logit(p_text) + lean >= logit(threshold), with lean =
weight * (logit(center) - logit(p_fit)), `p_fit` the probe's share of "yes". A "no" moves a
call the prose share alone would make towards text, a firm "yes" the other way.

After tool results, the share of the model's calls that would repeat a call it
already made (tools/repeat.py) counts as text: the grammar does not let it make that call, and
meaning to make it is the model saying it has what it asked for. Within a turn the relevance
probe is not asked then: whether a function fits the request was settled by the call made.

Used only where a call opens on a token of its own: with special call-tag tokens (Qwen2.5);
where the tag is plain text the call is found lazily and no single token decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def logit(p: float) -> float:
    """log(p / (1 - p)), finite: p is held within [1e-9, 1 - 1e-9]."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def fit_lean(p_fit: float, weight: float, center: float) -> float:
    """How far the probe's yes share moves the prose share's log-odds (module doc)."""
    return weight * (logit(center) - logit(p_fit))


class Fence:
    """The backticks a call decided on one goes on with: a ```json fence (a call) or a fence
    that names another language (a code answer), never a bare fence or one whose info string
    starts with a symbol (see module doc). `bans[k]`: the tokens that, after k backticks,
    would make such a fence of them or leave the fence; `after` counts the backticks. Built
    once per vocabulary from `pieces`: the tokens that do not start with a letter
    (`PATTERN`), with their bytes."""

    PATTERN = rb"[^A-Za-z].*"

    def __init__(self, n_vocab: int, pieces: dict[int, bytes]) -> None:
        # at the decision (k = 0) only tokens that start with a backtick are held to it
        self.bans = [token_mask(n_vocab, np.array([t for t, b in pieces.items()
                                                   if (k or b[:1] == b"`")
                                                   and not _opens_fence(b"`" * k + b)],
                                                  dtype=np.int64)) for k in range(4)]
        self._ticks = {t: len(b) for t, b in pieces.items() if b.startswith(b"`")}

    def after(self, ticks: int, token: int) -> int | None:
        """Backticks written once `token` follows `ticks` of them; None once past the fence's
        opening (three backticks and the first byte of its info string)."""
        n = ticks + self._ticks.get(token, 4)
        return n if n <= 3 else None


def _opens_fence(text: bytes) -> bool:
    """`text` is up to three backticks, or three and a letter: the language's name."""
    head = text[:4]
    if len(head) <= 3:
        return head == b"`" * len(head)
    return head[:3] == b"```" and head[3:].isalpha()


class TextDecision:
    """At the answer's first token, keep only prose or only call openings (see module doc).
    `p_text` holds the share it decided on (None before); `text` the outcome. `lean`: the
    relevance probe's shift of the share's log-odds (0: the share alone decides)."""

    def __init__(self, opens_call: np.ndarray, spelled: np.ndarray, threshold: float,
                 fence: Fence | None = None, lean: float = 0.0, repeat: float = 0.0,
                 decided: bool | None = None) -> None:
        self._opens_call = opens_call  # bool over the vocabulary
        self._spelled = spelled  # bool: prefixes of the tag in plain text (and not openers)
        self.threshold = threshold
        self._fence = fence
        self.lean = lean
        self.repeat = repeat  # the share of calls that would repeat an answered one
        self.decided = decided  # made before the answer (after tool results): applied only
        self.p_text: float | None = None
        self.text: bool | None = None
        # per token since the decision, the backticks a call has opened with (None: past
        # them, or none); None: not decided yet
        self._trail: list[int | None] | None = None

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        if self._trail is not None:
            if self._trail and self._trail[-1] is not None and self._fence is not None:
                logits[self._fence.bans[self._trail[-1]]] = -np.inf
            return
        allowed = np.isfinite(logits)
        call = allowed & self._opens_call
        spelled = allowed & self._spelled & ~call
        prose = allowed & ~call & ~spelled
        if not prose.any() or not call.any():  # nothing to decide: the grammar has
            return
        if self.decided is None:
            top = float(logits[allowed].max())
            weights = np.exp(logits[allowed] - top, dtype=np.float64)
            p_text = float(weights[prose[allowed]].sum() / weights.sum())
            self.p_text = p_text + (1 - p_text) * self.repeat  # a repeat is no call: done
            self.text = self.decide(self.p_text)
        else:
            self.text = self.decided
        logits[(call if self.text else prose) | spelled] = -np.inf
        if not self.text and self._fence is not None:  # no bare code fence
            logits[self._fence.bans[0]] = -np.inf
        self._trail = []

    def decide(self, p_text: float) -> bool:
        """Text, for this share of prose (the lean applied)."""
        return (p_text >= self.threshold if not self.lean else
                logit(p_text) + self.lean >= logit(self.threshold))

    def accept(self, token: int) -> None:
        if self._trail is None:
            return
        ticks = self._trail[-1] if self._trail else (None if self.text else 0)
        if ticks is not None and self._fence is not None:
            ticks = self._fence.after(ticks, token)
        self._trail.append(ticks)

    def rollback(self, n: int) -> None:
        """bad_words backtracking that takes back the deciding token decides again."""
        if self._trail is not None:
            del self._trail[max(0, len(self._trail) - n):]
            if not self._trail:
                self._trail = None


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
