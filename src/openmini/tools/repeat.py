"""How much the model means to make a call it already made: its share moves to "answer in text".

After a tool result a small model's first token still opens a call most of the time (`fast`
on "What's the weather in Oslo?" with the result of `get_weather {"city": "Oslo"}` in hand):
it would write the same call again. The grammar does not let it (tools/answered.py), but a
call decision would then force *another* call out of it, and what it writes is the answered
call bent out of shape (`{"city": "Oslo}}]{"}`). The call it meant is the model saying it has
what it asked for. So before the answer, each call of the last batch is scored as the
continuation of the answer's own prompt after the call tag (teacher forcing: every token of
`\\n{"name": ..., "arguments": ...}\\n` as the chat template writes calls, its probability
read, the token then forced; the closing tag is left out, since what follows a finished call
is another call as often as the tag), and the sum of their probabilities, `p_repeat`,
is the share of the model's calls that would repeat one. The decision (tools/decision.py) then
counts that share of the call class as text: p_text + (1 - p_text) * p_repeat.

The scored prompt shares the answer's whole prompt, so with the prefix cache the answer then
evaluates nothing again; the scoring costs one decode step per token of the longest call (its
calls run as one batch), about 20 steps for a small call, only in `auto` after tool results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from openmini.tools.calls import ToolCall

MAX_SCORED = 4  # calls of the last batch scored at most


def call_text(name: str, arguments: str) -> str:
    """A call as Qwen2.5's template writes it after the tag: `{"name": ..., "arguments": ...}`
    (`tojson`, which spells JSON as json.dumps does), on its own line."""
    try:
        value: object = json.loads(arguments)
    except json.JSONDecodeError:
        value = arguments
    return "\n" + json.dumps({"name": name, "arguments": value}, ensure_ascii=False) + "\n"


def last_batch(calls_of: Sequence[Sequence[ToolCall]]) -> list[ToolCall]:
    """The calls of the last assistant message that made any, each once, at most MAX_SCORED."""
    for calls in reversed(calls_of):
        if calls:
            seen: dict[tuple[str, str], ToolCall] = {}
            for call in calls:
                seen.setdefault((call.name, call.arguments), call)
            return list(seen.values())[:MAX_SCORED]
    return []


class ForcedScore:
    """A logits processor that writes `tokens` one by one and sums their log-probabilities
    (temperature 1, over the whole vocabulary) in `logprob`."""

    def __init__(self, tokens: Sequence[int]) -> None:
        self._tokens = list(tokens)
        self.logprob = 0.0
        self.steps = 0

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        k = len(generated)
        if k >= len(self._tokens):
            return
        token = self._tokens[k]
        row = logits.astype(np.float64)
        top = float(row.max())
        self.logprob += float(row[token]) - top - math.log(float(np.exp(row - top).sum()))
        self.steps = k + 1
        logits[:] = -np.inf
        logits[token] = 0.0

    def accept(self, token: int) -> None:
        return None
