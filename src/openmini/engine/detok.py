"""UTF-8-safe incremental detokenisation and stop strings held back until they cannot match."""

from __future__ import annotations

import codecs


class IncrementalText:
    """Turns token byte pieces into text, never splitting a multi-byte character."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, piece: bytes) -> str:
        return self._decoder.decode(piece)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)

    def getstate(self) -> tuple[bytes, int]:
        """The bytes of a character not yet complete (for backtracking)."""
        return self._decoder.getstate()

    def setstate(self, state: tuple[bytes, int]) -> None:
        self._decoder.setstate(state)


class StopMatcher:
    """Finds stop strings across token boundaries. Text that could still be the start of a stop
    string is held back; a matched stop string is never emitted."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self._held = ""

    def push(self, text: str) -> tuple[str, str | None]:
        """Returns (text safe to emit, matched stop string or None)."""
        if not self.stops:
            return text, None
        buf = self._held + text
        best: tuple[int, str] | None = None
        for stop in self.stops:
            idx = buf.find(stop)
            if idx >= 0 and (best is None or idx < best[0]):
                best = (idx, stop)
        if best is not None:
            self._held = ""
            return buf[: best[0]], best[1]
        hold = self._hold_length(buf)
        self._held = buf[len(buf) - hold:] if hold else ""
        return buf[: len(buf) - hold], None

    def _hold_length(self, buf: str) -> int:
        return max((partial_suffix(buf, stop) for stop in self.stops), default=0)

    def flush(self) -> str:
        """At the end of a sequence, held text is released (it never became a stop)."""
        held, self._held = self._held, ""
        return held


def partial_suffix(buf: str, target: str) -> int:
    """Length of the longest end of `buf` that begins `target` (and is shorter than it): the
    text to hold back while `target` may still be completing."""
    for k in range(min(len(target) - 1, len(buf)), 0, -1):
        if buf.endswith(target[:k]):
            return k
    return 0
