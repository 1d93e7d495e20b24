"""Calls in Markdown code fences, as small models write them when not trained on a format.

    To get the weather I'll call the function:

    ```json
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    ```

A fence holds one call object or a list of them (`function`/`parameters` variants included).
Fences that hold anything else stay in the content; a fence left open at the end of the
output counts as closed.
"""

from __future__ import annotations

import re

from openmini.tools.parsers.base import (
    CallShapeError,
    ParsedOutput,
    decode_json,
    looks_like_call,
    outside_text,
    plain,
    read_calls,
)

_FENCE = re.compile(r"```[ \t]*[\w.+-]*[ \t]*\n?(?P<body>.*?)(?:```|\Z)", re.DOTALL)


class FencedParser:
    def parse(self, text: str) -> ParsedOutput:
        parsed = ParsedOutput(content=None)
        outside: list[str] = []
        start = 0
        for match in _FENCE.finditer(text):
            if self._read(match.group("body").strip(), len(outside) + 1, parsed):
                outside.append(text[start:match.start()])
                start = match.end()
        if not outside:
            return plain(text)
        outside.append(text[start:])
        parsed.content = outside_text(outside)
        return parsed

    @staticmethod
    def _read(body: str, number: int, parsed: ParsedOutput) -> bool:
        """Add the fence's calls or problems to `parsed`; False if it is not a call fence."""
        where = f"tool call block {number}"
        if not body.startswith(("{", "[")):
            return False
        try:
            found = read_calls(decode_json(body), where)
        except CallShapeError as e:
            if not looks_like_call(body):
                return False
            parsed.problems.append(f"{where}: {e}")
            return True
        if found is None:
            return False
        parsed.calls.extend(found[0])
        parsed.problems.extend(found[1])
        return True
