"""Splits a thinking choice's text into reasoning and answer, as it streams.

The grammar guarantees that the first closing tag ends the block, so the split is exact: text
before it is reasoning, text after it is the answer. A partial tag is held back until it
completes or cannot; trailing whitespace of the reasoning and leading whitespace of the
answer are dropped (also while streaming: held until something else follows).
"""

from __future__ import annotations

from openmini.engine.detok import partial_suffix
from openmini.reasoning.format import CLOSE


class ThinkSplit:
    def __init__(self, close_id: int | None = None):
        self.close_id = close_id  # native: this token closes the block (its text is the tag)
        self.closed = False
        self._held = ""  # a possible start of the closing tag
        self._space = ""  # reasoning whitespace not yet known to be trailing
        self._started = False  # the answer has had a non-space character
        self._thought = False  # the reasoning has had a non-space character

    def push(self, text: str, token: int | None = None) -> tuple[str, str]:
        """Returns (reasoning text, answer text) safe to emit now."""
        if self.closed:
            return "", self._answer(text)
        if self.close_id is not None and token == self.close_id:
            self.closed = True
            return self._reason(self._held + text.replace(CLOSE, "", 1), last=True), ""
        buf = self._held + text
        if self.close_id is not None:  # only the token closes; its text is nothing special
            return self._reason(buf), ""
        idx = buf.find(CLOSE)
        if idx >= 0:
            self.closed, self._held = True, ""
            return self._reason(buf[:idx], last=True), self._answer(buf[idx + len(CLOSE):])
        keep = partial_suffix(buf, CLOSE)
        self._held = buf[len(buf) - keep:] if keep else ""
        return self._reason(buf[:len(buf) - keep]), ""

    def flush(self) -> str:
        """The choice ended inside the block (cut by max_tokens): the rest of the reasoning."""
        if self.closed:
            return ""
        held, self._held = self._held, ""
        return self._reason(held, last=True)

    def _reason(self, text: str, last: bool = False) -> str:
        if not self._thought:
            text = text.lstrip()
            self._thought = bool(text)
        text = self._space + text
        if last:
            self._space = ""
            return text.rstrip()
        body = text.rstrip()
        self._space = text[len(body):]
        return body

    def _answer(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text

