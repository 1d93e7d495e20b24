"""Hermes format (Qwen2.5's native tool calls): JSON calls between `<tool_call>` tags.

    I'll look that up.
    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

Tolerated: several blocks, text around them, no newline before the closing tag, a final block
never closed (generation stopped), a block left open by the next `<tool_call>`, a list of calls
in one block, and arguments written as a JSON string.
"""

from __future__ import annotations

from typing import Any

from openmini.tools.parsers.base import (
    CallShapeError,
    ParsedOutput,
    call_from_object,
    decode_json,
    outside_text,
    plain,
)

OPEN = "<tool_call>"
CLOSE = "</tool_call>"


def partial_suffix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that could be the start of one of `tags`."""
    for k in range(min(max(map(len, tags)) - 1, len(text)), 0, -1):
        if any(tag.startswith(text[-k:]) for tag in tags):
            return k
    return 0


def first_tag(text: str, tags: tuple[str, ...]) -> tuple[int, str]:
    """Position and tag of the earliest of `tags` in `text`; (-1, "") if none."""
    hits = [(i, tag) for tag in tags if (i := text.find(tag)) >= 0]
    return min(hits) if hits else (-1, "")


def unclosed_body(text: str) -> str:
    """The body of a block that was never closed, less a half-written tag at its end."""
    return text[: len(text) - partial_suffix(text, (CLOSE, OPEN))]


def split_blocks(text: str) -> tuple[list[str], list[str]]:
    """(text outside the blocks, block bodies); len(outside) == len(bodies) + 1."""
    outside: list[str] = []
    bodies: list[str] = []
    rest = text
    while (i := rest.find(OPEN)) >= 0:
        outside.append(rest[:i])
        rest = rest[i + len(OPEN):]
        j, tag = first_tag(rest, (CLOSE, OPEN))
        if j < 0:
            bodies.append(unclosed_body(rest))
            rest = ""
        else:
            bodies.append(rest[:j])
            rest = rest[j + len(CLOSE):] if tag == CLOSE else rest[j:]
    outside.append(rest)
    return outside, bodies


def block_calls(body: str, number: int) -> tuple[list[tuple[str, Any]], list[str]]:
    """The calls in one block body (`number` counts blocks from 1, for messages)."""
    where = f"tool call {number}"
    try:
        value = decode_json(body.strip())
        items = value if isinstance(value, list) and value else [value]
        calls: list[tuple[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                raise CallShapeError("expected a JSON object with 'name' and 'arguments'")
            calls.append(call_from_object(item))
    except CallShapeError as e:
        return [], [f"{where}: {e}"]
    return calls, []


class HermesParser:
    def parse(self, text: str) -> ParsedOutput:
        outside, bodies = split_blocks(text)
        if not bodies:
            return plain(text)
        parsed = ParsedOutput(content=outside_text(outside))
        for number, body in enumerate(bodies, start=1):
            calls, problems = block_calls(body, number)
            parsed.calls.extend(calls)
            parsed.problems.extend(problems)
        return parsed
