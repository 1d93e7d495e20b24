"""Collected `Completion`s -> OpenAI JSON bodies (plus the pieces streams share)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openmini.errors import EngineError
from openmini.pipeline import Choice, Completion
from openmini.server.logprobs import chat_logprobs, completion_logprobs
from openmini.types import CodeReport, Usage

# Internal finish reasons a client may see; the rest ("error", "cancelled") become errors.
PUBLIC_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    id: str
    created: int
    model: str


def public_finish_reason(reason: str | None) -> str:
    if reason in PUBLIC_FINISH_REASONS:
        return reason
    if reason == "cancelled":
        raise EngineError("The request was cancelled by the server.")
    raise EngineError("Generation failed.")


def usage_dict(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _envelope(meta: ResponseMeta, obj: str, choices: list[dict[str, Any]],
              usage: Usage) -> dict[str, Any]:
    return {"id": meta.id, "object": obj, "created": meta.created, "model": meta.model,
            "choices": choices, "usage": usage_dict(usage)}


def chat_body(completion: Completion, meta: ResponseMeta) -> dict[str, Any]:
    return _envelope(meta, "chat.completion", [_chat_choice(c) for c in completion.choices],
                     completion.usage)


def _chat_choice(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.text}
    if choice.reasoning:
        message["reasoning_content"] = choice.reasoning
    if choice.code is not None:
        message.update(code_fields(choice.code))
    if choice.tool_deltas:
        message["content"] = choice.text or None
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name,
                                                          "arguments": c.arguments}}
            for c in choice.tool_calls]
    return {
        "index": choice.index,
        "message": message,
        "logprobs": None if choice.logprobs is None else chat_logprobs(choice.logprobs),
        "finish_reason": public_finish_reason(choice.finish_reason),
        "stop_reason": choice.stop_reason,
    }


def code_fields(report: CodeReport) -> dict[str, Any]:
    """`code_diagnostics` (and `code_repairs` in repair mode): code_check's extension fields."""
    fields: dict[str, Any] = {"code_diagnostics": list(report.diagnostics)}
    if report.repairs is not None:
        fields["code_repairs"] = report.repairs
    return fields


def completion_body(completion: Completion, meta: ResponseMeta) -> dict[str, Any]:
    return _envelope(meta, "text_completion", [_text_choice(c) for c in completion.choices],
                     completion.usage)


def _text_choice(choice: Choice) -> dict[str, Any]:
    logprobs = None
    if choice.logprobs is not None:
        logprobs, _ = completion_logprobs(choice.logprobs, 0)
    out = {
        "index": choice.index,
        "text": choice.text,
        "logprobs": logprobs,
        "finish_reason": public_finish_reason(choice.finish_reason),
        "stop_reason": choice.stop_reason,
    }
    if choice.code is not None:  # fim_check's findings (code/fim_stage.py)
        out.update(code_fields(choice.code))
    return out
