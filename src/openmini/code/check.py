"""Parse-checking the code in an answer: which blocks, in which language, what is wrong, and
how a repair is asked for and put back.

A block's language is its fence's info string (an alias, `python title=x.py` reads as
Python); a block without one is detected among the request's `languages` (else the likely
languages of its text) by the parse with the fewest errors. A fence naming something that is
not a known language (`text`, `output`, `console`, ...) is not code to check. An answer with
no fence at all is checked whole, as code in one of `languages`, when the request names
languages (the caller says the answer is code); without them an unfenced answer is prose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from openmini.code.blocks import Block, fenced_blocks, indent_lines
from openmini.code.languages import Language, find
from openmini.code.parse import Parsed, detect_parse, parse
from openmini.errors import InvalidRequest

MAX_REPAIRS = 8
DEFAULT_REPAIRS = 2
FEEDBACK_DIAGNOSTICS = 10  # at most this many diagnostics in a repair's feedback
QUOTE_CHARS = 200  # of each diagnostic's line quoted in the feedback

Mode = Literal["report", "repair"]


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """A request's `code_check`: report the syntax errors of the code in the answer, or
    repair the blocks that do not parse (at most `max_repairs` regenerations per block)."""

    mode: Mode = "report"
    languages: tuple[str, ...] = ()  # canonical names, in the caller's order
    max_repairs: int = DEFAULT_REPAIRS


def code_check_of(mode: str, languages: list[str] | None, max_repairs: int | None,
                  param: str = "code_check") -> CodeCheck:
    """The edge's conversion: unknown languages and out-of-range repairs are 400s."""
    if mode not in ("report", "repair"):
        raise InvalidRequest(f"'{param}.mode' must be 'report' or 'repair'.",
                             param=f"{param}.mode")
    names: list[str] = []
    for i, name in enumerate(languages or ()):
        lang = find(name) if isinstance(name, str) else None
        if lang is None:
            raise InvalidRequest(f"'{param}.languages[{i}]': unknown language {name!r}.",
                                 param=f"{param}.languages[{i}]", code="unknown_language")
        names.append(lang.name)
    repairs = DEFAULT_REPAIRS if max_repairs is None else max_repairs
    if not 0 <= repairs <= MAX_REPAIRS:
        raise InvalidRequest(f"'{param}.max_repairs' must be between 0 and {MAX_REPAIRS}.",
                             param=f"{param}.max_repairs")
    return CodeCheck(mode, tuple(dict.fromkeys(names)), repairs)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Checked:
    """One block of an answer, parsed: its place among the answer's blocks and its parse."""

    index: int
    block: Block
    parsed: Parsed

    @property
    def language(self) -> Language:
        return self.parsed.language

    def diagnostics(self) -> list[dict[str, Any]]:
        return [{"block": self.index, "language": self.language.name, **d}
                for d in self.parsed.diagnostics]


def check_block(text: str, block: Block, index: int, languages: tuple[str, ...]
                ) -> Checked | None:
    """`block` of `text` parsed in its language; None when it is not code to check."""
    code = block.code(text)
    if not code.strip() or len(code.encode("utf-8", "replace")) > (1 << 20) or "\x00" in code:
        return None
    if block.info:
        lang = find(block.info.split()[0])
        return None if lang is None else Checked(index, block, parse(code, lang))
    return Checked(index, block, detect_parse(code, list(languages) or None))


def whole_answer(text: str, languages: tuple[str, ...]) -> Block | None:
    """The whole answer as one block: when it has no fence and the request named languages."""
    if not languages or not text.strip():
        return None
    return Block(0, len(text), None)


def check_answer(text: str, spec: CodeCheck, blocks: list[Block] | None = None
                 ) -> list[Checked]:
    """Every checked block of a finished answer, in order (`blocks`: already found)."""
    found = fenced_blocks(text) if blocks is None else blocks
    if not found:
        whole = whole_answer(text, spec.languages)
        found = [whole] if whole is not None else []
    checked = [check_block(text, block, i, spec.languages) for i, block in enumerate(found)]
    return [c for c in checked if c is not None]


def repair_prompt(checked: Checked) -> str:
    """The user turn that asks for a block again, with what is wrong with it."""
    lang = checked.language.name
    where = ("Your answer's code" if checked.block.info is None
             else f"Code block {checked.index + 1} of your answer ({lang})")
    return f"{where} does not parse as {lang}:\n" + _feedback(checked.parsed)


def retry_prompt(parsed: Parsed) -> str:
    """The user turn after a regeneration that still does not parse: the model sees its
    own attempt and what is wrong with it, so that the next one is asked something new
    (under greedy decoding the same question gets the same answer)."""
    return (f"That code still does not parse as {parsed.language.name}:\n"
            + _feedback(parsed))


def _feedback(parsed: Parsed) -> str:
    """The diagnostics, each with the line it is on, and the request for the code."""
    lines = parsed.source.decode("utf-8", "replace").splitlines()
    out = []
    for d in parsed.diagnostics[:FEEDBACK_DIAGNOSTICS]:
        out.append(f"- line {d['line']}, column {d['column']}: {d['message']}")
        if 0 < d["line"] <= len(lines) and lines[d["line"] - 1].strip():
            out.append(f"  the line: `{lines[d['line'] - 1].strip()[:QUOTE_CHARS]}`")
    lang = parsed.language.name
    return ("\n".join(out) + "\n\n"
            f"Write that code again in full, corrected, in one ```{lang} code block, and "
            "nothing else.")


def code_of_reply(reply: str, language: Language) -> str:
    """The code a repair reply gives: its block in `language` (else its first block), else
    the whole reply."""
    blocks = fenced_blocks(reply)
    for block in blocks:
        if block.info and find(block.info.split()[0]) == language:
            return block.code(reply)
    return blocks[0].code(reply) if blocks else reply.strip("\n") + "\n"


def splice(text: str, block: Block, code: str) -> tuple[str, Block]:
    """`text` with `block`'s code replaced (set back at its indentation; an unclosed block
    gets its closing fence), and where the block now lies."""
    if not code.endswith("\n"):
        code += "\n"
    if block.info is None:  # the whole answer
        new = code if text.endswith("\n") else code.rstrip("\n")
        return new, replace(block, end=len(new))
    new = indent_lines(code, block.indent)
    start = block.start
    if start and text[start - 1] != "\n":  # the fence was the last line
        new, start = "\n" + new, start + 1
    end = block.start + len(new)
    after = text[block.end:] if block.closed else block.indent + block.fence
    return (text[:block.start] + new + after,
            replace(block, start=start, end=end, closed=True))


def complete_prefix(code: str, language: Language) -> Parsed | None:
    """The code cut back to its last complete top-level statement, when that parses and
    holds anything: what is kept of a block that `max_tokens` cut off mid-statement and no
    regeneration made whole. None when nothing before the first error parses."""
    parsed = parse(code, language)
    end = 0
    for node in parsed.tree.root_node.children:
        if node.has_error or node.is_missing:
            break
        end = node.end_byte
    kept = parsed.source[:end].decode("utf-8", "replace").rstrip() + "\n"
    if not kept.strip():
        return None
    trimmed = parse(kept, language)
    return trimmed if trimmed.ok else None
