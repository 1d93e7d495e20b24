"""`bad_words` (vLLM's request field): phrases that never appear in the output.

Matching is on the decoded text, case-insensitively (`str.casefold`), as substrings, across
token boundaries. The engine feeds every generated token's text to a `PhraseGuard`:

- text that could still become a banned phrase is held back, a whole token at a time, so
  backtracking never has to retract anything already emitted;
- when a phrase completes, `push` names the generated position of the token holding the
  phrase's first character, and the engine backtracks there (engine/backtrack.py): that token
  is banned at that position and the sequence resamples from it.

An Aho-Corasick automaton over the folded phrases keeps the state: the longest suffix of the
text so far that is a prefix of some phrase. No match can start before that suffix, so every
token ending before it is released. (After a backtrack the restored state can reach back into
released text; a match starting there backtracks to the first token still held.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openmini.errors import InvalidRequest

MAX_PHRASES = 256
MAX_PHRASE_CHARS = 200
MAX_TOTAL_CHARS = 8192  # bounds the automaton: ~30 ms to build on the engine thread, ~2 MB


def check_phrases(phrases: Iterable[object] | str | None) -> tuple[str, ...]:
    """Validate the request field; raises InvalidRequest naming `bad_words`."""
    if phrases is None:
        return ()
    items = [phrases] if isinstance(phrases, str) else list(phrases)
    if len(items) > MAX_PHRASES:
        raise InvalidRequest(f"'bad_words' may hold at most {MAX_PHRASES} phrases "
                             f"(got {len(items)}).", param="bad_words")
    out: list[str] = []
    for i, phrase in enumerate(items):
        if not isinstance(phrase, str) or not phrase:
            raise InvalidRequest(f"'bad_words[{i}]' must be a non-empty string.",
                                 param="bad_words")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise InvalidRequest(f"'bad_words[{i}]' is longer than {MAX_PHRASE_CHARS} "
                                 "characters.", param="bad_words")
        out.append(phrase)
    if sum(map(len, out)) > MAX_TOTAL_CHARS:
        raise InvalidRequest(f"'bad_words' may hold at most {MAX_TOTAL_CHARS} characters in "
                             "all.", param="bad_words")
    return tuple(dict.fromkeys(out))


class Automaton:
    """Aho-Corasick over casefolded phrases. A state is a trie node: the longest suffix of the
    text read so far that is a prefix of a phrase; `depth[s]` is its length and `hit[s]` the
    length of the longest phrase ending there (0: none)."""

    def __init__(self, phrases: tuple[str, ...]):
        self.goto: list[dict[str, int]] = [{}]
        self.depth = [0]
        self.fail = [0]
        terminal = [False]
        for phrase in phrases:
            s = 0
            for ch in phrase:
                nxt = self.goto[s].get(ch)
                if nxt is None:
                    nxt = self.goto[s][ch] = len(self.goto)
                    self.goto.append({})
                    self.depth.append(self.depth[s] + 1)
                    self.fail.append(0)
                    terminal.append(False)
                s = nxt
            terminal[s] = True
        self.hit = [0] * len(self.goto)
        self._link(terminal)

    def _link(self, terminal: list[bool]) -> None:
        queue = deque(self.goto[0].values())
        while queue:
            s = queue.popleft()
            self.hit[s] = self.depth[s] if terminal[s] else self.hit[self.fail[s]]
            for ch, t in self.goto[s].items():
                queue.append(t)
                f = self.fail[s]
                while f and ch not in self.goto[f]:
                    f = self.fail[f]
                self.fail[t] = self.goto[f].get(ch, 0)  # s is never the root here

    def step(self, state: int, ch: str) -> int:
        goto = self.goto
        while state and ch not in goto[state]:
            state = self.fail[state]
        return goto[state].get(ch, 0)


@lru_cache(maxsize=16)
def automaton(phrases: tuple[str, ...]) -> Automaton:
    """One automaton per distinct phrase list (building it is pure Python)."""
    return Automaton(tuple(p.casefold() for p in phrases))


@dataclass(slots=True)
class Held:
    """One generated token not yet released: its text, what the emitter needs to send it, and
    the states to restore if the sequence backtracks to it."""

    token: int
    text: str
    logprobs: Any = None
    partial: bool = False  # ends inside a character the next token completes
    detok_state: Any = None  # the detokeniser's state before this token
    state: int = 0  # automaton state before this token
    start: int = 0  # folded-text offset of this token's text
    end: int = 0


class PhraseGuard:
    def __init__(self, phrases: tuple[str, ...]):
        self.ac = automaton(phrases)
        self.held: list[Held] = []
        self.base = 0  # generated position of held[0]
        self._state = 0
        self._offset = 0  # folded characters read

    def push(self, entry: Held) -> int | None:
        """Add the next generated token. Returns the generated position to backtrack to when
        a banned phrase just completed (the caller then calls `truncate`), else None."""
        folded = entry.text.casefold()
        entry.state, entry.start = self._state, self._offset
        entry.end = self._offset + len(folded)
        self.held.append(entry)
        state, offset, ac = self._state, self._offset, self.ac
        for ch in folded:
            state = ac.step(state, ch)
            offset += 1
            if ac.hit[state]:
                return self._position_of(offset - ac.hit[state])
        self._state, self._offset = state, offset
        return None

    def _position_of(self, char: int) -> int:
        """The held token where the character at folded offset `char` begins: the one that
        completed it, or an earlier one when the character's bytes were split over tokens.
        After a backtrack a match can start in text already released (released "…b", then
        "b" again for the phrase "bb"): then the first held token is where the path can
        still change."""
        held = self.held
        for i in range(len(held) - 1, -1, -1):
            if held[i].start <= char < held[i].end:
                while i > 0 and held[i - 1].partial and held[i].start == char:
                    i -= 1
                return self.base + i
        return self.base

    def release(self) -> list[Held]:
        """Tokens that can no longer be part of a banned phrase, oldest first."""
        hold_from = self._offset - self.ac.depth[self._state]
        i = 0
        while i < len(self.held) and self.held[i].end <= hold_from:
            i += 1
        while i > 0 and self.held[i - 1].partial:  # a split character goes out whole
            i -= 1
        out, self.held = self.held[:i], self.held[i:]
        self.base += i
        return out

    def flush(self) -> list[Held]:
        """The sequence ended: what is held never became a banned phrase."""
        out, self.held = self.held, []
        self.base += len(out)
        return out

    def holds(self, position: int) -> bool:
        return self.base <= position < self.base + len(self.held)

    def truncate(self, position: int) -> Held:
        """Forget the held tokens from generated `position` on; returns the first of them
        (its `detok_state` is what the detokeniser goes back to)."""
        i = position - self.base
        first = self.held[i]
        del self.held[i:]
        self._state, self._offset = first.state, first.start
        return first
