"""Anthropic `system` + `messages` -> internal `ChatMessage`s, as the OpenAI edge makes them.

- `system` (a string or text blocks) -> one system message first.
- user text blocks are joined with newlines; an `image` block stands where it was among them
  (`ImagePart.at`), its source a `data:` URL (base64) or the URL itself (url): exactly what
  an OpenAI `image_url` part becomes, so the vision stage's rules, limits and SSRF guard apply.
- each `tool_result` block -> a tool message answering `tool_use_id` (what OpenAI's
  `role: "tool"` becomes); `is_error` puts "Error: " before its text. User text around the
  results stays a user message, in order.
- assistant text blocks joined; `tool_use` blocks -> the message's tool calls (input as JSON
  text); `thinking` / `redacted_thinking` blocks are dropped, as Anthropic drops them. A final
  assistant turn is Anthropic's prefill: continued by the model (convert.py sets
  `Request.continue_final`; a model that cannot continue a message refuses it by name).

`origin` records which wire message each internal message came from, so errors raised later
(the vision stage names `messages[i].content[j].image_url`) can name the wire block.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.server.anthropic.schemas import (
    Base64Source,
    ImageBlock,
    MessageIn,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from openmini.tools.calls import ToolCall
from openmini.types import ChatMessage, ImagePart

Messages = tuple[tuple[ChatMessage, ...], tuple[int | None, ...]]


def chat_messages(system: str | list[TextBlock] | None, messages: list[MessageIn]) -> Messages:
    """The internal messages, and for each the index of the wire message it came from
    (None: the system prompt)."""
    out: list[ChatMessage] = []
    origin: list[int | None] = []
    text = system_text(system)
    if text:
        out.append(ChatMessage(role="system", content=text))
        origin.append(None)
    for i, message in enumerate(messages):
        turn = _user(i, message) if message.role == "user" else _assistant(i, message)
        for converted in turn:
            out.append(converted)
            origin.append(i)
    return tuple(out), tuple(origin)


def system_text(system: str | list[TextBlock] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n".join(block.text for block in system)


class _UserTurn:
    """Text and images gathered until a tool result (or the end) closes them into a message."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.images: list[ImagePart] = []
        self.blocks = 0

    def flush(self) -> Iterator[ChatMessage]:
        if self.blocks:
            yield ChatMessage(role="user", content="\n".join(self.texts),
                              images=tuple(self.images))
        self.texts, self.images, self.blocks = [], [], 0


def _user(i: int, message: MessageIn) -> Iterator[ChatMessage]:
    if isinstance(message.content, str):
        yield ChatMessage(role="user", content=message.content)
        return
    if not message.content:
        yield ChatMessage(role="user", content="")
        return
    turn = _UserTurn()
    for j, block in enumerate(message.content):
        if isinstance(block, ToolResultBlock):
            yield from turn.flush()
            yield ChatMessage(role="tool", content=_result_text(i, j, block),
                              tool_call_id=block.tool_use_id)
            continue
        if isinstance(block, TextBlock):
            turn.texts.append(block.text)
        elif isinstance(block, ImageBlock):
            turn.images.append(image_part(block, len("\n".join(turn.texts)), j))
        else:
            raise _misplaced(i, j, block.type, "user")
        turn.blocks += 1
    yield from turn.flush()


def image_part(block: ImageBlock, at: int, index: int) -> ImagePart:
    source = block.source
    if isinstance(source, Base64Source):
        url = f"data:{source.media_type};base64,{source.data}"
    else:
        url = source.url
    return ImagePart(url=url, at=at, index=index)


def _result_text(i: int, j: int, block: ToolResultBlock) -> str:
    content = block.content
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        parts = []
        for k, part in enumerate(content):
            if not isinstance(part, TextBlock):
                raise UnsupportedParameter(f"messages[{i}].content[{j}].content[{k}]",
                                           "of type 'image' is not supported in a tool result "
                                           "(send the image in a user turn)")
            parts.append(part.text)
        text = "\n".join(parts)
    return f"Error: {text}" if block.is_error else text


def _assistant(i: int, message: MessageIn) -> Iterator[ChatMessage]:
    if isinstance(message.content, str):
        yield ChatMessage(role="assistant", content=message.content)
        return
    texts: list[str] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append(ToolCall(block.id, block.name,
                                  json.dumps(block.input, ensure_ascii=False)))
        elif not isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            raise _misplaced(i, j, block.type, "assistant")
    yield ChatMessage(role="assistant", content="\n".join(texts), tool_calls=tuple(calls))


def _misplaced(i: int, j: int, kind: str, role: str) -> InvalidRequest:
    return InvalidRequest(f"'messages[{i}].content[{j}]': a '{kind}' block is not allowed in "
                          f"a '{role}' message.", param=f"messages[{i}].content[{j}]")
