"""The stop criteria a request names by field (`stop_regex`, `max_sentences`, `max_time`)
as the built-in hooks that enforce them, first in the chain."""

from __future__ import annotations

from collections.abc import Sequence

from openmini.hooks.base import TokenHook


def stop_criteria(stop_regex: Sequence[str] | None, max_sentences: int | None,
                  max_time: float | None) -> tuple[TokenHook, ...]:
    from openmini.hooks.builtin import MaxSentences, MaxTime, StopRegex

    hooks: list[TokenHook] = []
    if stop_regex is not None:
        hooks.append(StopRegex(stop_regex))
    if max_sentences is not None:
        hooks.append(MaxSentences(max_sentences))
    if max_time is not None:
        hooks.append(MaxTime(max_time))
    return tuple(hooks)
