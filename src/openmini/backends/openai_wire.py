"""The internal `Request` -> an OpenAI-compatible request body (the reverse of
server/convert.py), and what such an upstream cannot be asked for, refused by name.

Passed on: messages (developer turns as `system`, which every chat template knows; images as
`data:` URLs in content parts, in place; tool calls and results), max_tokens, temperature,
top_p (only when not 1.0: OpenAI's reasoning models refuse the field), presence/frequency
penalties, seed, stop, n, logit_bias (the upstream tokenizer's ids, as the caller gave them),
logprobs/top_logprobs, a completion's `suffix` (fill in the middle: the upstream's, or its
400), tools/tool_choice/parallel_tool_calls, `response_format` (only when the upstream
enforces JSON schemas), `reasoning_effort` (only when it is declared able).
As vLLM's, SGLang's, llama.cpp's and openmini's extra body fields: top_k, min_p, ignore_eos
(an upstream that does not know them, OpenAI, refuses them with a 400).

Refused by name (`UnsupportedParameter`): hooks and the stop criteria on them (stop_regex,
max_sentences, max_time: they run on tokens in this process), bad_words (backtracking needs
the logits), repetition_penalty (vLLM calls it so, llama.cpp `repeat_penalty`, OpenAI has
none: no one name is honoured everywhere), priority (a place in this server's queue), a
thinking_budget that is not one of the efforts' budgets, any output constraint unless the
upstream enforces JSON schemas, and then every constraint that is not a JSON schema.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.reasoning.effort import EFFORT_BUDGETS
from openmini.types import ChatMessage, ImagePart, Request, SamplingParams

if TYPE_CHECKING:
    from openmini.backends.base import Capabilities
    from openmini.backends.upstream_images import EncodedImage
    from openmini.decoding.constraint import Constraint
    from openmini.reasoning.effort import ReasoningSpec
    from openmini.tools.spec import ToolChoice, ToolSpec

Images = dict[tuple[int, int], "EncodedImage"]


def check_request(request: Request, caps: Capabilities, enforces_json_schema: bool) -> None:
    """Refuse what an OpenAI-compatible upstream cannot honour (see the module docstring)."""
    if request.n > caps.max_n:
        raise InvalidRequest(f"'n' must be at most {caps.max_n} for this model.", param="n")
    if request.hooks:
        raise UnsupportedParameter("hooks", "(and stop_regex, max_sentences, max_time) run "
                                   "on tokens in this server: not supported by an upstream "
                                   "provider")
    s = request.sampling
    if s.bad_words:
        raise UnsupportedParameter("bad_words", "is not supported by an upstream provider")
    if s.repetition_penalty != 1.0:
        raise UnsupportedParameter("repetition_penalty", "is not supported by an upstream "
                                   "provider (use presence_penalty or frequency_penalty)")
    if request.priority:
        raise UnsupportedParameter("priority", "is not supported by an upstream provider")
    if request.reasoning is not None:
        if not caps.reasoning:
            raise UnsupportedParameter("reasoning_effort", "is not supported by this model")
        reasoning_json(request.reasoning)
    if request.constraint is not None:
        response_format_json(request.constraint, enforces_json_schema)
    if request.continue_final and not caps.prefill:
        raise UnsupportedParameter("continue_final_message", "is not supported by this model "
                                   "(its provider does not declare prefill)")


def request_json(request: Request, upstream_model: str, images: Images,
                 enforces_json_schema: bool) -> dict[str, Any]:
    """The streamed request body for /chat/completions (messages) or /completions."""
    chat = request.messages is not None
    body: dict[str, Any] = {"model": upstream_model, "stream": True,
                            "stream_options": {"include_usage": True}}
    if request.messages is not None:
        body["messages"] = messages_json(request.messages, images)
    else:
        body["prompt"] = request.prompt or ""
        if request.suffix is not None:  # fill in the middle: the upstream's own (or its 400)
            body["suffix"] = request.suffix
    body.update(sampling_json(request.sampling, chat))
    if request.n > 1:
        body["n"] = request.n
    if request.tools:
        body.update(tools_json(request.tools, request.tool_choice, request.parallel_tool_calls))
    if request.constraint is not None:
        body["response_format"] = response_format_json(request.constraint,
                                                       enforces_json_schema)
    if request.reasoning is not None:
        body["reasoning_effort"] = reasoning_json(request.reasoning)
    if request.continue_final:  # vLLM's (and openmini's) names; llama.cpp prefills anyway
        body.update(continue_final_message=True, add_generation_prompt=False)
    return body


def sampling_json(s: SamplingParams, chat: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"temperature": s.temperature}
    fields: list[tuple[str, object, object]] = [
        ("max_tokens", s.max_tokens, None), ("top_p", s.top_p, 1.0),
        ("presence_penalty", s.presence_penalty, 0.0),
        ("frequency_penalty", s.frequency_penalty, 0.0), ("seed", s.seed, None),
        ("top_k", s.top_k, 0), ("min_p", s.min_p, 0.0), ("ignore_eos", s.ignore_eos, False)]
    out.update((name, value) for name, value, default in fields if value != default)
    if s.stop:
        out["stop"] = list(s.stop)
    if s.logit_bias:
        out["logit_bias"] = {str(token): bias for token, bias in s.logit_bias}
    if s.logprobs and chat:
        out["logprobs"] = True
        if s.top_logprobs:
            out["top_logprobs"] = s.top_logprobs
    elif s.logprobs:
        out["logprobs"] = s.top_logprobs
    return out


def messages_json(messages: tuple[ChatMessage, ...], images: Images) -> list[dict[str, Any]]:
    return [message_json(i, m, images) for i, m in enumerate(messages)]


def message_json(i: int, message: ChatMessage, images: Images) -> dict[str, Any]:
    role = "system" if message.role == "developer" else message.role
    content: object = message.content
    if message.images:
        content = content_parts(i, message, images)
    elif message.tool_calls and not message.content:
        content = None
    out: dict[str, Any] = {"role": role, "content": content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def content_parts(i: int, message: ChatMessage, images: Images) -> list[dict[str, Any]]:
    """The text cut where each image stands (`ImagePart.at`), as the edge joined it: text
    parts were joined by a newline, which an image between two of them takes the place of
    (server/content.py)."""
    text, pos = message.content, 0
    parts: list[dict[str, Any]] = []
    for part in sorted(message.images, key=lambda p: p.at):
        at = max(part.at, pos)
        if at > pos:
            parts.append({"type": "text", "text": text[pos:at]})
        parts.append(_image_part(i, part, images))
        pos = at
        if 0 < pos == part.at and text.startswith("\n", pos):
            pos += 1
    if pos < len(text):
        parts.append({"type": "text", "text": text[pos:]})
    return parts


def _image_part(i: int, part: ImagePart, images: Images) -> dict[str, Any]:
    image = images[(i, part.index)]
    return {"type": "image_url", "image_url": {"url": image.data_url, "detail": part.detail}}


def tools_json(tools: tuple[ToolSpec, ...], choice: ToolChoice | None,
               parallel: bool) -> dict[str, Any]:
    specs = []
    for t in tools:
        function: dict[str, Any] = {"name": t.name, "description": t.description,
                                    "parameters": t.parameters}
        if t.strict:
            function["strict"] = True
        specs.append({"type": "function", "function": function})
    mode: object = "auto" if choice is None else choice.mode
    if choice is not None and choice.mode == "function":
        mode = {"type": "function", "function": {"name": choice.name}}
    return {"tools": specs, "tool_choice": mode, "parallel_tool_calls": parallel}


def response_format_json(constraint: Constraint, enforces_json_schema: bool) -> dict[str, Any]:
    """`response_format` for a JSON-schema constraint, when the upstream enforces it."""
    field = constraint.param.split(".")[0]
    if not enforces_json_schema:
        raise UnsupportedParameter(field, "is not supported by this model (its provider "
                                   "does not enforce structured output)")
    if constraint.kind != "json_schema":
        raise UnsupportedParameter(constraint.param, f"({constraint.kind}) is not supported "
                                   "by this model: its provider enforces JSON schemas only")
    schema = json.loads(constraint.spec)
    if field == "response_format" and schema == {"type": "object"}:
        return {"type": "json_object"}
    return {"type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": True}}


def reasoning_json(spec: ReasoningSpec) -> str:
    """`reasoning_effort`; a budget no effort stands for cannot be asked for."""
    if EFFORT_BUDGETS.get(spec.effort) != spec.budget:
        raise UnsupportedParameter("thinking_budget", "is not supported by this model's "
                                   "provider (use reasoning_effort)")
    return spec.effort
