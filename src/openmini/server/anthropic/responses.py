"""A collected `Completion` -> Anthropic's message object (plus the pieces the stream shares).

- content blocks, in Anthropic's order: `thinking` (the reasoning), `text`, `tool_use`;
- `stop_reason`: stop -> `end_turn`, or `stop_sequence` (with `stop_sequence` set) when one
  of the request's stop sequences ended it; length -> `max_tokens`; tool_calls -> `tool_use`;
  content_filter -> `refusal`;
- `usage`: Anthropic counts cache reads apart, so `input_tokens` is the prompt tokens not
  served from the prefix cache and `cache_read_input_tokens` those that were.

A thinking block's `signature` is a digest of its text, present because Anthropic clients
expect the field: it is not a cryptographic signature, proves nothing, and is not checked
when a client sends the block back (such blocks are dropped from the prompt).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from openmini.errors import EngineError
from openmini.pipeline import Choice, Completion
from openmini.server.responses import public_finish_reason
from openmini.types import Request, Usage

STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def tool_use_id(call_id: str) -> str:
    """`call_X` (our call ids) -> `toolu_X`, the shape of Anthropic's ids; stream and body
    agree since the mapping is fixed."""
    return call_id if call_id.startswith("toolu_") else "toolu_" + call_id.removeprefix("call_")


def signature(thinking: str) -> str:
    """Not verifiable (module doc): a digest of the thinking text."""
    digest = hashlib.sha256(b"openmini-thinking\0" + thinking.encode()).digest()
    return base64.b64encode(digest).decode()


def stop_reason(finish_reason: str | None, detail: str | int | None,
                stop_sequences: tuple[str, ...]) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence); cancelled or failed choices raise (an error response)."""
    reason = public_finish_reason(finish_reason)
    if reason in STOP_REASONS:
        return STOP_REASONS[reason], None
    if isinstance(detail, str) and detail in stop_sequences:
        return "stop_sequence", detail
    return "end_turn", None


def usage_body(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens),
            "output_tokens": usage.completion_tokens,
            "cache_read_input_tokens": usage.cached_tokens}


def tool_input(arguments: str) -> dict[str, Any]:
    """A call's arguments (validated JSON text) as the object Anthropic returns."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise EngineError("The model wrote a tool call whose arguments are not a JSON object.")
    return value


def message_body(completion: Completion, request: Request) -> dict[str, Any]:
    choice = completion.choices[0]
    reason, sequence = stop_reason(choice.finish_reason, choice.stop_reason,
                                   request.sampling.stop)
    return {"id": request.request_id, "type": "message", "role": "assistant",
            "model": request.model, "content": content_blocks(choice),
            "stop_reason": reason, "stop_sequence": sequence,
            "usage": usage_body(completion.usage)}


def content_blocks(choice: Choice) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if choice.reasoning:
        blocks.append({"type": "thinking", "thinking": choice.reasoning,
                       "signature": signature(choice.reasoning)})
    if choice.text:
        blocks.append({"type": "text", "text": choice.text})
    if choice.tool_deltas:
        blocks.extend({"type": "tool_use", "id": tool_use_id(call.id), "name": call.name,
                       "input": tool_input(call.arguments)} for call in choice.tool_calls)
    return blocks
