"""Anthropic's Messages stream, scripted for the scripted upstream (scripted_upstream.py):
`event: <name>` + `data: <json>` frames, whole answers, and Anthropic's error envelope.

    up.script(answer(text_block(0, "Hel", "lo"), output=2))
    AnthropicBackend("s", root(up), ...)        # the API root: requests go to /v1/messages
"""

from __future__ import annotations

import json
from typing import Any

from scripted_upstream import Reply, ScriptedUpstream


def root(up: ScriptedUpstream) -> str:
    return up.base_url.removesuffix("/v1")


def frame(name: str, **data: Any) -> bytes:
    return (b"event: " + name.encode() + b"\ndata: "
            + json.dumps({"type": name, **data}).encode() + b"\n\n")


def message_start(input_tokens: int = 3, **usage: int) -> bytes:
    message: dict[str, Any] = {"id": "msg_1", "type": "message", "role": "assistant", "model": "up",
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage}}
    return frame("message_start", message=message)


def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    return [frame("content_block_start", index=index, content_block=start),
            *(frame("content_block_delta", index=index, delta=d) for d in deltas),
            frame("content_block_stop", index=index)]


def text_block(index: int, *pieces: str) -> list[bytes]:
    return block(index, {"type": "text", "text": ""},
                 [{"type": "text_delta", "text": p} for p in pieces])


def thinking_block(index: int, *pieces: str) -> list[bytes]:
    return block(index, {"type": "thinking", "thinking": "", "signature": ""},
                 [*({"type": "thinking_delta", "thinking": p} for p in pieces),
                  {"type": "signature_delta", "signature": "c2ln"}])


def tool_block(index: int, *fragments: str, name: str = "get_weather",
               call_id: str = "toolu_up1") -> list[bytes]:
    return block(index, {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                 [{"type": "input_json_delta", "partial_json": f} for f in fragments])


def finish(stop_reason: str = "end_turn", output: int = 2,
           stop_sequence: str | None = None, **usage: int) -> list[bytes]:
    return [frame("message_delta", delta={"stop_reason": stop_reason,
                                           "stop_sequence": stop_sequence},
                  usage={"output_tokens": output, **usage}),
            frame("message_stop")]


def answer(*blocks: list[bytes], stop_reason: str = "end_turn", output: int = 2,
           input_tokens: int = 3, stop_sequence: str | None = None) -> Reply:
    """A whole streamed answer: message_start, a ping, the blocks, message_delta, stop."""
    frames: list[bytes | float] = [message_start(input_tokens), frame("ping")]
    for b in blocks:
        frames += b
    frames += finish(stop_reason, output, stop_sequence)
    return Reply(body=frames)


def error_body(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
