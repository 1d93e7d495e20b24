"""Built-in hooks: the stop criteria beyond strings (`stop_regex`, `max_sentences`,
`max_time`). They register in HOOKS exactly as plugins do, and act on the answer only
(`max_time` on every token). One instance serves one request; state is kept per choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from openmini.errors import InvalidRequest
from openmini.hooks.base import Action, HookToken, release, stop

REGEX_TIMEOUT = 0.05  # seconds one search may take; a pattern that backtracks forever fails
MAX_PATTERNS = 16
MAX_PATTERN_LENGTH = 1000
# Texts a pattern is tried on: a zero-width match in any (^, $, \b, lookarounds, x*) is refused.
EMPTY_PROBES = ("", "a", "a b", "A.", " ", "\n", "1", "ab12 cd.\n")


def compile_patterns(patterns: Sequence[str], param: str = "stop_regex") -> list[regex.Pattern]:
    if not isinstance(patterns, list | tuple) or not patterns:
        raise InvalidRequest(f"'{param}' must be a non-empty list of regular expressions.",
                             param=param)
    if len(patterns) > MAX_PATTERNS:
        raise InvalidRequest(f"'{param}' takes at most {MAX_PATTERNS} patterns.", param=param)
    compiled = []
    for i, pattern in enumerate(patterns):
        where = f"{param}[{i}]"
        if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_LENGTH:
            raise InvalidRequest(f"'{where}' must be a non-empty string of at most "
                                 f"{MAX_PATTERN_LENGTH} characters.", param=where)
        try:
            compiled.append(regex.compile(pattern))
        except regex.error as exc:
            raise InvalidRequest(f"Invalid regular expression in '{where}': {exc}",
                                 param=where) from exc
        if any(m.end() == m.start() for probe in EMPTY_PROBES
               for m in [compiled[-1].search(probe)] if m is not None):
            raise InvalidRequest(f"'{where}' can match the empty string, so it would stop "
                                 "without matching any text.", param=where)
    return compiled


@dataclass(slots=True)
class _Seen:
    text: str = ""  # the answer so far, as this hook received it


class StopRegex:
    """Stops at the first match of any pattern, found across token boundaries; the match is
    not emitted. Text that could still begin a match is held back (partial matching)."""

    name = "stop_regex"

    def __init__(self, patterns: Sequence[str]):
        self.patterns = compile_patterns(patterns)
        self._seen: dict[int, _Seen] = {}

    def __call__(self, tok: HookToken) -> Action | None:
        if tok.reasoning:
            return None
        seen = self._seen.setdefault(tok.index, _Seen())
        seen.text += tok.text
        start = len(seen.text) - len(tok.held) - len(tok.text)  # first character not emitted
        hold_from = len(seen.text)
        for pattern in self.patterns:
            m = pattern.search(seen.text, start, partial=True, timeout=REGEX_TIMEOUT)
            if m is None:
                continue
            if not m.partial:
                return stop(seen.text[start:m.start()], reason=pattern.pattern)
            hold_from = min(hold_from, m.start())
        if tok.token_id < 0:  # the choice is ending: a partial match never completes
            return None
        return release(hold_from - start)


@dataclass(slots=True)
class _Sentences:
    count: int = 0
    after_end: bool = False  # the last character ended a sentence (".", "?", ... + closers)


TERMINATORS = frozenset(".!?…。！？")
CLOSERS = frozenset("\"')]}»”’")


class MaxSentences:
    """Stops after `n` complete sentences of the answer. A sentence is complete when a
    terminator (. ! ? … and CJK ones), with any closing quotes or brackets, is followed by
    whitespace; the whitespace is not emitted. (An abbreviation such as "e.g. " counts.)"""

    name = "max_sentences"

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidRequest("'max_sentences' must be an integer of at least 1.",
                                 param="max_sentences")
        self.n = n
        self._state: dict[int, _Sentences] = {}

    def __call__(self, tok: HookToken) -> Action | None:
        if tok.reasoning or not tok.text:
            return None
        st = self._state.setdefault(tok.index, _Sentences())
        for i, char in enumerate(tok.text):
            if st.after_end and char.isspace():
                st.count += 1
                st.after_end = False
                if st.count >= self.n:
                    return stop(tok.held + tok.text[:i], reason=self.name)
            elif char in TERMINATORS:
                st.after_end = True
            elif not (st.after_end and char in CLOSERS):
                st.after_end = False
        return None


@dataclass(slots=True)
class MaxTime:
    """Ends a choice once it has generated for `seconds` (finish_reason "length")."""

    seconds: float
    name: str = field(default="max_time", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float) or not (
                0 < self.seconds <= 3600):
            raise InvalidRequest("'max_time' must be a number of seconds above 0 and at most "
                                 "3600.", param="max_time")

    def __call__(self, tok: HookToken) -> Action | None:
        if tok.elapsed >= self.seconds:
            return stop(reason=self.name, finish="length")
        return None
