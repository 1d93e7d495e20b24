"""The whole output is the call: one JSON object, or a list of them, and nothing else.

    {"name": "get_weather", "arguments": {"city": "Paris"}}

Output that is JSON but not call-shaped (an answer that happens to be JSON) stays content.
"""

from __future__ import annotations

from openmini.tools.parsers.base import (
    CallShapeError,
    ParsedOutput,
    decode_json,
    looks_like_call,
    plain,
    read_calls,
)


class BareParser:
    def parse(self, text: str) -> ParsedOutput:
        body = text.strip()
        if not body.startswith(("{", "[")):
            return plain(text)
        try:
            found = read_calls(decode_json(body), "tool call")
        except CallShapeError as e:
            if not looks_like_call(body):
                return plain(text)
            return ParsedOutput(content=None, problems=[f"tool call: {e}"])
        if found is None:
            return plain(text)
        return ParsedOutput(content=None, calls=found[0], problems=found[1])
