"""Fenced code blocks in a model's answer, found as the text arrives.

Markdown fences as CommonMark writes them, relaxed the way models write them: a line of three
or more backticks (or tildes), at any indentation (a block inside a list item), opens a block;
its info string's first word names the language; a line of the same character, at least as
long, and nothing else, closes it; a block never closed runs to the end of the answer. The
fence's indentation is taken off the code's lines (as CommonMark does), so a block's code and
its diagnostics read as if it stood alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})([^\n]*)$")


@dataclass(frozen=True, slots=True)
class Block:
    """One code block: `start`/`end` bound its code in the answer (fence lines excluded),
    `info` is the fence's info string (empty: none; None: the whole answer is the block),
    `indent` the fence's indentation (taken off every code line), `fence_at` where the
    opening fence's line starts (the block's own start for the whole answer), `fence` its
    marker."""

    start: int
    end: int
    info: str | None
    indent: str = ""
    closed: bool = True
    fence_at: int = 0
    fence: str = "```"

    def code(self, text: str) -> str:
        return dedent(text[self.start:self.end], self.indent)


def dedent(code: str, indent: str) -> str:
    if not indent:
        return code
    return "".join(line[len(indent):] if line.startswith(indent) else line.lstrip(" \t")
                   for line in code.splitlines(keepends=True))


def indent_lines(code: str, indent: str) -> str:
    """`code` set back at a block's indentation (blank lines stay blank)."""
    if not indent:
        return code
    return "".join(indent + line if line.strip() else line
                   for line in code.splitlines(keepends=True))


class FenceScanner:
    """Follows an answer's text as it grows, line by line.

    `settled` is how far the text is known to lie outside any block (text a stream may pass on
    at once); `blocks` the blocks closed so far; `open_at` where the open block's fence line
    starts (None outside a block)."""

    def __init__(self) -> None:
        self.text = ""
        self.blocks: list[Block] = []
        self.settled = 0
        self.open_at: int | None = None
        self._line = 0  # where the first line not yet scanned starts
        self._fence = ""  # the open fence's marker (``` or ~~~ run)
        self._info = ""
        self._indent = ""
        self._code_at = 0

    def push(self, text: str) -> list[Block]:
        """Take more text; the blocks it closed."""
        self.text += text
        closed: list[Block] = []
        while (newline := self.text.find("\n", self._line)) >= 0:
            block = self._scan(self._line, newline)
            self._line = newline + 1
            if block is not None:
                closed.append(block)
        if self.open_at is None:
            # a partial last line is settled unless it may still become a fence
            rest = self.text[self._line:]
            self.settled = len(self.text) if not _may_open(rest) else self._line
        return closed

    def finish(self) -> list[Block]:
        """The end of the answer: the last line scanned, an open block closed at the end."""
        closed: list[Block] = []
        if self._line < len(self.text):
            block = self._scan(self._line, len(self.text))
            self._line = len(self.text)
            if block is not None:
                closed.append(block)
        if self.open_at is not None:
            block = Block(self._code_at, len(self.text), self._info, self._indent, False,
                          self.open_at, self._fence)
            self.blocks.append(block)
            closed.append(block)
            self.open_at = None
        self.settled = len(self.text)
        return closed

    def _scan(self, start: int, end: int) -> Block | None:
        line = self.text[start:end].rstrip("\r")
        if self.open_at is None:
            match = _OPEN.match(line)
            if match and not (match[2][0] == "`" and "`" in match[3]):
                self.open_at, self._indent, self._fence = start, match[1], match[2]
                self._info = match[3].strip()
                self._code_at = min(end + 1, len(self.text))
            else:
                self.settled = end + 1
            return None
        stripped = line.strip()
        if (stripped and set(stripped) == {self._fence[0]}
                and len(stripped) >= len(self._fence)):
            assert self.open_at is not None
            block = Block(self._code_at, start, self._info, self._indent, True, self.open_at,
                          self._fence)
            self.blocks.append(block)
            self.open_at = None
            self.settled = end + 1
            return block
        return None


def _may_open(partial: str) -> bool:
    """Whether a partial line could still turn out to be a fence."""
    head = partial.lstrip(" \t")
    if not head:
        return bool(partial)
    run = len(head) - len(head.lstrip(head[0]))
    return head[0] in "`~" and (run >= 3 or run == len(head))


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a whole answer."""
    scanner = FenceScanner()
    scanner.push(text)
    scanner.finish()
    return scanner.blocks
