"""Token logprobs in the two OpenAI shapes: chat (`content` entries) and legacy completions
(`tokens` / `token_logprobs` / `top_logprobs` / `text_offset`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from openmini.types import TokenLogprob

FLOOR = -9999.0  # what OpenAI reports for impossible tokens; JSON has no -inf


def _finite(logprob: float) -> float:
    return logprob if math.isfinite(logprob) else FLOOR


def chat_logprobs(tokens: Sequence[TokenLogprob]) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": t.token,
                "logprob": _finite(t.logprob),
                "bytes": list(t.bytes),
                "top_logprobs": [
                    {"token": top.token, "logprob": _finite(top.logprob), "bytes": list(top.bytes)}
                    for top in t.top
                ],
            }
            for t in tokens
        ]
    }


def completion_logprobs(tokens: Sequence[TokenLogprob], offset: int) -> tuple[dict[str, Any], int]:
    """The legacy shape, and the text offset after these tokens (streams continue from it)."""
    offsets = []
    for t in tokens:
        offsets.append(offset)
        offset += len(t.token)
    body = {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [_finite(t.logprob) for t in tokens],
        "top_logprobs": [{top.token: _finite(top.logprob) for top in t.top} for t in tokens],
        "text_offset": offsets,
    }
    return body, offset
