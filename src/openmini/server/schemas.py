"""Wire schemas (pydantic) for the OpenAI-compatible request bodies.

Only shapes and ranges live here; cross-field rules and the mapping to the internal
`Request` live in `convert.py`. Strict mode: no silent "1" -> 1 or true -> 1 coercion.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Parameters of the OpenAI API that we know of but do not honour yet. A null value counts
# as absent; any other value is rejected with a 400 that names the parameter.
UNSUPPORTED_FIELDS = frozenset({
    # request level
    "functions", "function_call", "modalities", "audio", "prediction",
    "web_search_options", "service_tier", "metadata",
    # message level
    "refusal",
})


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are errors, unsupported nulls are dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_null_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(
            data[key] is None for key in UNSUPPORTED_FIELDS.intersection(data)
        ):
            return {k: v for k, v in data.items() if v is not None or k not in UNSUPPORTED_FIELDS}
        return data


class ImageURL(WireModel):
    """OpenAI's `image_url` object of an image part."""

    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] = "auto"


class ContentPart(BaseModel):
    """One part of a message's content: `text` or `image_url`; other part types pass
    validation so that `convert` can name them precisely."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    text: str | None = None
    image_url: ImageURL | None = None


class MessageIn(WireModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # checked in convert (assistant only)
    tool_call_id: str | None = None  # required on tool messages


class StreamOptions(WireModel):
    include_usage: bool = False


StopString = Annotated[str, Field(min_length=1)]
Bias = Annotated[float, Field(ge=-100, le=100)]


class JsonSchemaFormat(WireModel):
    """OpenAI's `response_format.json_schema` object."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(WireModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StructuredOutputs(WireModel):
    """vLLM's `structured_outputs`: exactly one of json, regex, choice, grammar (Lark)."""

    json_spec: dict[str, Any] | str | None = Field(default=None, alias="json")
    regex: str | None = Field(default=None, min_length=1)
    choice: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    grammar: str | None = Field(default=None, min_length=1)


class CodebaseIn(WireModel):
    """Extension `codebase`: code retrieved from an index into the prompt (docs/index.md)."""

    index: str
    k: int = Field(default=6, ge=1, le=50)
    max_tokens: int = Field(default=2048, ge=1, le=32768)
    path: str | None = Field(default=None, min_length=1, description="The file being "
                             "completed, relative to the index's root.")


class GenerationFields(WireModel):
    """Fields shared by chat and text completions."""

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0, description="Extension: 0 disables it.")
    min_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    stop: StopString | Annotated[list[StopString], Field(max_length=16)] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    repetition_penalty: float | None = Field(default=None, gt=0, description="Extension.")
    logit_bias: dict[str, Bias] | None = None
    user: str | None = None
    priority: int | None = Field(default=None, description="Extension: lower runs first.")
    ignore_eos: bool | None = Field(default=None, description="Extension.")
    structured_outputs: StructuredOutputs | None = Field(
        default=None, description="Extension (vLLM): json, regex, choice or grammar.")
    bad_words: list[str] | None = Field(
        default=None, description="Extension (vLLM): phrases that never appear in the output.")
    stop_regex: list[str] | None = Field(
        default=None, description="Extension: regular expressions that end the output (the "
        "match is not emitted).")
    max_sentences: int | None = Field(
        default=None, description="Extension: end the output after this many sentences.")
    max_time: float | int | None = Field(
        default=None, description="Extension: seconds a choice may generate for.")
    hooks: list[str | dict[str, Any]] | None = Field(
        default=None, description="Extension: server-side token hooks by name, with args.")
    codebase: CodebaseIn | None = Field(
        default=None, description="Extension: snippets of a codebase index retrieved for "
        "the request, placed in the prompt; the response's `context` lists them.")


class CodeCheckIn(WireModel):
    mode: str = "report"  # checked in code/check.py (the 400 names code_check.mode)
    languages: list[str] | None = None
    max_repairs: int | None = None


class ChatCompletionRequest(GenerationFields):
    messages: list[MessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[Any] | None = None  # checked in tools/spec.py: 400s name tools[i]...
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    store: bool | None = Field(
        default=None, description="OpenAI's: false (or absent) only; openmini stores nothing.")
    reasoning_effort: str | None = None  # checked in reasoning/effort.py (400 names it)
    thinking_budget: int | None = Field(
        default=None, description="Extension: thinking tokens at most (0: no thinking).")
    continue_final_message: bool | None = Field(
        default=None, description="vLLM's: continue the final (assistant) message instead "
        "of answering it; needs add_generation_prompt false.")
    add_generation_prompt: bool | None = Field(
        default=None, description="vLLM's: true (the default) opens a new assistant turn.")
    code_check: CodeCheckIn | None = Field(
        default=None, description="Extension: parse the code in the answer and report "
        "(`message.code_diagnostics`) or repair the blocks that do not parse.")


class CompletionRequest(GenerationFields):
    prompt: str | list[Any]
    suffix: str | None = Field(
        default=None, description="Fill in the middle: the text after the completion (a "
        "model with FIM tokens; empty: none).")
    echo: bool | None = None
    best_of: int | None = Field(default=None, ge=1)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    fim_check: bool | None = Field(
        default=None, description="Extension, with suffix: a middle after which prompt + "
        "middle + suffix no longer parses (when it did) is generated again.")
    language: str | None = Field(
        default=None, description="Extension, with fim_check: the file's language "
        "(default: detected).")
