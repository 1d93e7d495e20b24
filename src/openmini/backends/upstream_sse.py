"""Server-sent events read from an upstream's response, for any provider that streams them
(OpenAI-compatible servers, Anthropic's Messages API).

`sse_events` follows the WHATWG parsing rules the providers rely on: `field: value` lines,
one optional space after the colon, several `data:` lines joined by newlines, `:` comments
and unknown fields ignored, an event dispatched at the blank line that ends it; a last event
with no blank line after it is dropped (it was cut off).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"  # the `event:` field (Anthropic names its events), else "message"
    id: str | None = None


async def sse_events(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """The events in a stream of lines (upstream_http.Stream.lines())."""
    data: list[str] = []
    event, event_id = "", None
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent("\n".join(data), event or "message", event_id)
            data, event = [], ""
            continue
        name, value = _field(line)
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value


def _field(line: str) -> tuple[str, str]:
    """("", "") for a comment; a line without a colon is a field with an empty value."""
    if line.startswith(":"):
        return "", ""
    name, colon, value = line.partition(":")
    if colon and value.startswith(" "):
        value = value[1:]
    return name, value
