"""Prompt tokenisation with a cache of the text between special tokens.

llama.cpp tokenises a prompt by first splitting it at special-token texts (`<|im_start|>`, …)
and then running the BPE over each plain fragment on its own. So tokenising fragment by fragment
gives exactly the same tokens, and each fragment's tokens can be cached: system prompts, tool
definitions, few-shot examples and earlier turns repeat from request to request, and their
tokenisation (cold CPU caches after a decode: ~0.3 ms even for a short prompt) is skipped.

Exactness is checked when the tokenizer is built: a set of probe texts must tokenise the same
both ways, or the cache is switched off and every call goes to llama.cpp whole.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

Tokenize = Callable[[str, bool, bool], list[int]]  # (text, add_special, parse_special)

PROBES = (
    "plain text, with punctuation: ok?  two  spaces\n\nand lines",
    "{s}system\nYou are helpful.{e}\n{s}user\nHi there!{e}\n{s}assistant\n",
    " {s} lead and trail {e} ",
    "{s}{e}{s}\n{e}\t{s}  x",
    "unicode: héllo wörld ✓ 日本語 🙂{s}tail",
)


class SegmentTokenizer:
    """Tokenises like `tokenize(text, add_special, parse_special=True)`, caching fragments."""

    def __init__(self, tokenize: Tokenize, specials: dict[str, int], bos: int | None,
                 max_entries: int = 2048, max_fragment_chars: int = 16384):
        self._tokenize = tokenize
        self._specials = specials
        self._bos = bos
        self._max_entries = max_entries
        self._max_chars = max_fragment_chars
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        names = sorted(specials, key=len, reverse=True)  # llama.cpp tries longer ones first
        self._split = re.compile("(" + "|".join(map(re.escape, names)) + ")") if names else None
        self.exact = self._split is not None and self._check()

    def __call__(self, text: str, add_special: bool) -> list[int]:
        if not self.exact:
            return self._tokenize(text, add_special, True)
        return self._join(text, add_special, self._fragment)

    def _join(self, text: str, add_special: bool,
              fragment: Callable[[str], Sequence[int]]) -> list[int]:
        out: list[int] = [self._bos] if add_special and self._bos is not None else []
        for part in self._parts(text):
            special = self._specials.get(part)
            if special is not None:
                out.append(special)
            elif part:
                out.extend(fragment(part))
        return out

    def _parts(self, text: str) -> Iterable[str]:
        assert self._split is not None
        return self._split.split(text)

    def _fragment(self, text: str) -> tuple[int, ...]:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                self.hits += 1
                return hit
        tokens = tuple(self._tokenize(text, False, False))
        if len(text) <= self._max_chars:
            with self._lock:
                self.misses += 1
                self._cache[text] = tokens
                while len(self._cache) > self._max_entries:
                    self._cache.popitem(last=False)
        return tokens

    def _check(self) -> bool:
        names = sorted(self._specials)
        opener, closer = names[0], names[-1]
        for probe in PROBES:
            text = probe.format(s=opener, e=closer)
            for add_special in (False, True):
                if self._tokenize(text, add_special, True) != self._uncached(text, add_special):
                    return False
        return True

    def _uncached(self, text: str, add_special: bool) -> list[int]:
        return self._join(text, add_special, lambda part: self._tokenize(part, False, False))
