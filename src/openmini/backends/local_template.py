"""How the local backend renders a conversation for a Hugging Face chat template: messages
and tools as the template takes them, image markers in place, the final message left open."""

from __future__ import annotations

import json

from openmini.errors import InvalidRequest
from openmini.types import ChatMessage, ImagePart, Request


def message_dict(message: ChatMessage, marker: str | None = None) -> dict[str, object]:
    """A message as Hugging Face chat templates take it (call arguments as objects); with
    `marker`, its images (with pixels) stand in the content as that text."""
    role = message.role
    content = message.content
    if marker is not None and message.images:
        content = _with_markers(content, message.images, marker)
    out: dict[str, object] = {"role": "system" if role == "developer" else role,
                              "content": content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.name, "arguments": _arguments_object(c.arguments)}}
            for c in message.tool_calls]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def in_order(images: tuple[ImagePart, ...]) -> list[ImagePart]:
    return sorted(images, key=lambda p: p.at)  # stable: parts at one place keep their order


def _with_markers(text: str, images: tuple[ImagePart, ...], marker: str) -> str:
    """Content parts joined as llama.cpp's server joins them for a template that takes
    strings: text parts by a newline (as `content` holds them), an image's marker with no
    separator: between two text parts it takes the newline's place."""
    for part in reversed(in_order(images)):
        if part.pixels is None:
            continue
        before, after = text[:part.at], text[part.at:]
        if before and after.startswith("\n"):
            after = after[1:]
        text = before + marker + after
    return text


def _arguments_object(arguments: str) -> object:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments  # rendered as the string it is


def tools_dicts(request: Request) -> list[dict[str, object]] | None:
    if not request.tools:
        return None
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}}
            for t in request.tools]


def open_final(text: str, content: str) -> str:
    """The rendered conversation cut right after the final (assistant) message's content:
    its end-of-turn tokens dropped, so the model continues it (as vLLM's
    continue_final_message does)."""
    at = text.rfind(content) if content else -1
    if at < 0:
        raise InvalidRequest("The chat template does not render the message to continue "
                             "verbatim.", param="messages")
    return text[:at + len(content)]
