"""Wire schemas (pydantic) for Anthropic's Messages API request bodies.

Only shapes and ranges live here; the rules between fields and the mapping to the internal
`Request` live in convert.py. As on the OpenAI edge: strict types, unknown fields are errors
(a 400 naming them, server/validation.py). Content blocks and the other tagged unions are
told apart by `type` with tags spelled like class names, so error locations name the field
(`messages.0.content.1.source`), not the tag.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


class AnthropicModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def by_type(what: str, **tags: str) -> Discriminator:
    """Picks a union member by the `type` value (`tags`: value -> member class name); an
    unknown or missing type is one error naming the expected values."""

    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return tags.get(kind) if isinstance(kind, str) else None

    expected = ", ".join(f"'{value}'" for value in tags)
    return Discriminator(tag, custom_error_type="invalid_type",
                         custom_error_message=f"unknown or missing {what} 'type': expected "
                                              f"one of {expected}")


class CacheControl(AnthropicModel):
    """Accepted: the engine's prefix cache keeps every prompt prefix anyway (docs)."""

    type: Literal["ephemeral"]


class TextBlock(AnthropicModel):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None
    citations: None = None  # null only: citations are not supported


class Base64Source(AnthropicModel):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str = Field(min_length=1)


class URLSource(AnthropicModel):
    type: Literal["url"]
    url: str = Field(min_length=1)


ImageSource = Annotated[
    Annotated[Base64Source, Tag("Base64Source")] | Annotated[URLSource, Tag("URLSource")],
    by_type("image source", base64="Base64Source", url="URLSource")]


class ImageBlock(AnthropicModel):
    type: Literal["image"]
    source: ImageSource
    cache_control: CacheControl | None = None


ToolResultPart = Annotated[
    Annotated[TextBlock, Tag("TextBlock")] | Annotated[ImageBlock, Tag("ImageBlock")],
    by_type("tool result block", text="TextBlock", image="ImageBlock")]


class ToolResultBlock(AnthropicModel):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultPart] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ToolUseBlock(AnthropicModel):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]
    cache_control: CacheControl | None = None


class ThinkingBlock(AnthropicModel):
    """Sent back in assistant turns; dropped from the prompt (as Anthropic does)."""

    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(AnthropicModel):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("TextBlock")] | Annotated[ImageBlock, Tag("ImageBlock")]
    | Annotated[ToolUseBlock, Tag("ToolUseBlock")]
    | Annotated[ToolResultBlock, Tag("ToolResultBlock")]
    | Annotated[ThinkingBlock, Tag("ThinkingBlock")]
    | Annotated[RedactedThinkingBlock, Tag("RedactedThinkingBlock")],
    by_type("content block", text="TextBlock", image="ImageBlock", tool_use="ToolUseBlock",
            tool_result="ToolResultBlock", thinking="ThinkingBlock",
            redacted_thinking="RedactedThinkingBlock")]


class MessageIn(AnthropicModel):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class ToolIn(AnthropicModel):
    name: str
    description: str | None = None
    input_schema: dict[str, Any]
    type: Literal["custom"] | None = None
    cache_control: CacheControl | None = None


class ToolChoiceAuto(AnthropicModel):
    type: Literal["auto"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(AnthropicModel):
    type: Literal["any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(AnthropicModel):
    type: Literal["tool"]
    name: str = Field(min_length=1)
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(AnthropicModel):
    type: Literal["none"]


ToolChoiceIn = Annotated[
    Annotated[ToolChoiceAuto, Tag("ToolChoiceAuto")]
    | Annotated[ToolChoiceAny, Tag("ToolChoiceAny")]
    | Annotated[ToolChoiceTool, Tag("ToolChoiceTool")]
    | Annotated[ToolChoiceNone, Tag("ToolChoiceNone")],
    by_type("tool_choice", auto="ToolChoiceAuto", any="ToolChoiceAny", tool="ToolChoiceTool",
            none="ToolChoiceNone")]


class ThinkingEnabled(AnthropicModel):
    type: Literal["enabled"]
    budget_tokens: int  # range checked in convert.py (the message names the limits)


class ThinkingDisabled(AnthropicModel):
    type: Literal["disabled"]


ThinkingIn = Annotated[
    Annotated[ThinkingEnabled, Tag("ThinkingEnabled")]
    | Annotated[ThinkingDisabled, Tag("ThinkingDisabled")],
    by_type("thinking", enabled="ThinkingEnabled", disabled="ThinkingDisabled")]


class Metadata(AnthropicModel):
    user_id: str | None = None


StopSequence = Annotated[str, Field(min_length=1)]


class MessageFields(AnthropicModel):
    """What a prompt is made of: shared by /v1/messages and /v1/messages/count_tokens."""

    model: str = Field(min_length=1)
    messages: list[MessageIn] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: ToolChoiceIn | None = None
    thinking: ThinkingIn | None = None


class MessagesRequest(MessageFields):
    max_tokens: int = Field(ge=1)
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0, description="0 disables it.")
    stop_sequences: list[StopSequence] | None = Field(default=None, max_length=16)
    stream: bool | None = None
    metadata: Metadata | None = None


class CountTokensRequest(MessageFields):
    """The prompt alone: generation fields (max_tokens, stream, ...) are 400s here."""
