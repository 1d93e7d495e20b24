"""The internal `Request` -> an Anthropic Messages API request body (the reverse of
server/anthropic/), and what that API cannot be asked for, refused by name.

Passed on: `system` (our system and developer messages, joined by a blank line), user and
assistant turns (text and base64 image blocks, in place; consecutive turns of one role merged
into one, as the API requires), assistant tool calls as `tool_use` blocks, tool results as
`tool_result` blocks in a user turn, tools (`input_schema`), tool_choice (auto / any / tool /
none, `disable_parallel_tool_use` from parallel_tool_calls), the thinking budget as
`thinking: {"type": "enabled", "budget_tokens": N}`, stop_sequences, max_tokens (required by
the API: DEFAULT_MAX_TOKENS when the request has none), temperature / top_p / top_k (when not
the API's defaults), and a final assistant message with `continue_final` as Anthropic's
prefill, its trailing whitespace held back (the API refuses it; the reader drops as much
leading whitespace from the continuation: anthropic_stream.py).

Refused by name (`UnsupportedParameter`): a raw prompt, n > 1 (one choice per request),
logprobs, top_logprobs, hooks (stop_regex, max_sentences, max_time), bad_words,
repetition/presence/frequency penalties, seed, logit_bias, min_p, ignore_eos, priority, a
temperature above 1 (the API's range is 0 to 1), any output constraint (response_format,
structured_outputs), a message `name`, a final assistant turn without `continue_final` (the
API would continue it, not answer after it), a thinking budget that max_tokens leaves under
MIN_BUDGET, and a prefill on a provider that does not declare `prefill`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openmini.backends.openai_wire import content_parts
from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.reasoning.effort import MIN_BUDGET
from openmini.types import ChatMessage, Request, SamplingParams

if TYPE_CHECKING:
    from openmini.backends.base import Capabilities
    from openmini.backends.upstream_images import EncodedImage
    from openmini.reasoning.effort import ReasoningSpec
    from openmini.tools.spec import ToolChoice, ToolSpec

Images = dict[tuple[int, int], "EncodedImage"]
Block = dict[str, Any]

API = "Anthropic's Messages API"
# max_tokens when the request sets none: every Claude model can write this many, and a
# provider's declared context_length caps it (prompt and answer must fit in it)
DEFAULT_MAX_TOKENS = 4096
TOOL_CHOICES = {"auto": "auto", "required": "any", "function": "tool", "none": "none"}


@dataclass(frozen=True, slots=True)
class Conversation:
    """`system` (None: no system prompt), the wire messages, and the whitespace held back
    from the end of a prefill."""

    system: str | None
    messages: list[dict[str, Any]]
    held: str = ""


def check_request(request: Request, caps: Capabilities) -> None:
    """Refuse what the Messages API cannot honour (see the module docstring)."""
    if request.messages is None:
        raise UnsupportedParameter("prompt", f"(a raw completion) is not supported by {API}: "
                                   "send chat messages")
    if request.n > 1:
        raise UnsupportedParameter("n", f"above 1 is not supported by {API} (one choice per "
                                   "request)")
    if request.hooks:
        raise UnsupportedParameter("hooks", "(and stop_regex, max_sentences, max_time) run "
                                   "on tokens in this server: not supported by an upstream "
                                   "provider")
    refused = refused_sampling(request.sampling)
    if refused:
        raise UnsupportedParameter(refused[0], f"is not supported by {API}")
    if request.priority:
        raise UnsupportedParameter("priority", "is not supported by an upstream provider")
    if request.sampling.temperature > 1:
        raise UnsupportedParameter("temperature", f"above 1 is not supported by {API} (its "
                                   "range is 0 to 1)")
    if request.constraint is not None:
        raise UnsupportedParameter(request.constraint.param.split(".")[0], "is not supported "
                                   f"by this model ({API} enforces no output constraint)")
    if request.reasoning is not None:
        if not caps.reasoning:
            raise UnsupportedParameter("reasoning_effort", "is not supported by this model")
        thinking_json(request.reasoning, max_tokens_of(request, caps))
    if request.continue_final and not caps.prefill:
        raise UnsupportedParameter("continue_final_message", "is not supported by this model "
                                   "(its provider does not declare prefill)")


def refused_sampling(s: SamplingParams) -> list[str]:
    """The sampling fields set away from their defaults that the API has no field for."""
    fields: list[tuple[str, bool]] = [
        ("logprobs", s.logprobs), ("top_logprobs", s.top_logprobs != 0),
        ("bad_words", bool(s.bad_words)), ("repetition_penalty", s.repetition_penalty != 1.0),
        ("presence_penalty", s.presence_penalty != 0.0),
        ("frequency_penalty", s.frequency_penalty != 0.0), ("seed", s.seed is not None),
        ("logit_bias", bool(s.logit_bias)), ("min_p", s.min_p != 0.0),
        ("ignore_eos", s.ignore_eos)]
    return [name for name, on in fields if on]


def max_tokens_of(request: Request, caps: Capabilities) -> int:
    asked = request.sampling.max_tokens
    return asked if asked is not None else min(DEFAULT_MAX_TOKENS, caps.context_length)


def request_json(request: Request, upstream_model: str, images: Images,
                 caps: Capabilities) -> tuple[dict[str, Any], str]:
    """The streamed /v1/messages body, and the whitespace held back from a prefill."""
    max_tokens = max_tokens_of(request, caps)
    conversation = conversation_json(request, images)
    body: dict[str, Any] = {"model": upstream_model, "max_tokens": max_tokens,
                            "messages": conversation.messages, "stream": True}
    if conversation.system is not None:
        body["system"] = conversation.system
    s = request.sampling
    fields: list[tuple[str, object, object]] = [
        ("temperature", s.temperature, 1.0), ("top_p", s.top_p, 1.0), ("top_k", s.top_k, 0)]
    body.update((name, value) for name, value, default in fields if value != default)
    if s.stop:
        body["stop_sequences"] = list(s.stop)
    if request.tools:
        body.update(tools_json(request.tools, request.tool_choice, request.parallel_tool_calls))
    if request.reasoning is not None:
        body["thinking"] = thinking_json(request.reasoning, max_tokens)
    return body, conversation.held


def count_json(request: Request, upstream_model: str, images: Images,
               caps: Capabilities) -> dict[str, Any]:
    """The /v1/messages/count_tokens body: the prompt's fields of the request's body."""
    if request.messages is None:
        raise UnsupportedParameter("prompt", f"(a raw completion) is not supported by {API}")
    conversation = conversation_json(request, images)
    body: dict[str, Any] = {"model": upstream_model, "messages": conversation.messages}
    if conversation.system is not None:
        body["system"] = conversation.system
    if request.tools:
        body.update(tools_json(request.tools, request.tool_choice, request.parallel_tool_calls))
    if request.reasoning is not None:
        body["thinking"] = thinking_json(request.reasoning, max_tokens_of(request, caps))
    return body


def conversation_json(request: Request, images: Images) -> Conversation:
    messages = request.messages or ()
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    held = ""
    last = len(messages) - 1
    if request.continue_final and (not messages or messages[-1].role != "assistant"):
        raise InvalidRequest("continue_final_message needs a final assistant message.",
                             param="messages")
    for i, message in enumerate(messages):
        if message.name:
            raise UnsupportedParameter(f"messages[{i}].name", f"is not supported by {API}")
        if message.role in ("system", "developer"):
            system.append(message.content)
            continue
        prefill = i == last and message.role == "assistant"
        if prefill:
            blocks, held = _prefill(i, message, request.continue_final)
        else:
            blocks = message_blocks(i, message, images)
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        elif blocks or not prefill:  # an empty prefill: a new turn, as the request means
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        turn["content"] = _collapsed(turn["content"])
    return Conversation("\n\n".join(system) if system else None, turns, held)


def _prefill(i: int, message: ChatMessage, continue_final: bool) -> tuple[list[Block], str]:
    """The final assistant turn, which the API continues: only with `continue_final`, text
    only, its trailing whitespace (which the API refuses) held back."""
    if not continue_final:
        raise UnsupportedParameter(f"messages[{i}]", "(a final assistant turn, answered with a "
                                   f"new turn) is not supported by {API}: it would continue "
                                   "that turn")
    if message.tool_calls:
        raise InvalidRequest("A final assistant message to be continued must hold text only.",
                             param=f"messages[{i}]")
    text = message.content.rstrip()
    blocks = [{"type": "text", "text": text}] if text else []
    return blocks, message.content[len(text):]


def _collapsed(blocks: list[Block]) -> str | list[Block]:
    """One text block as a plain string (the API takes either); no blocks as ""."""
    if not blocks:
        return ""
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return str(blocks[0]["text"])
    return blocks


def message_blocks(i: int, message: ChatMessage, images: Images) -> list[Block]:
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequest(f"'messages[{i}].tool_call_id' is required for a tool "
                                 "message.", param=f"messages[{i}].tool_call_id")
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id,
                 "content": message.content}]
    if message.images:
        return image_blocks(i, message, images)
    blocks: list[Block] = [{"type": "text", "text": message.content}] if message.content else []
    for j, call in enumerate(message.tool_calls):
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": _call_input(i, j, call.arguments)})
    return blocks


def image_blocks(i: int, message: ChatMessage, images: Images) -> list[Block]:
    """Text and image blocks in the order they stand in the message (openai_wire's
    `content_parts` cuts the text; each image part becomes a base64 `image` block)."""
    encoded = {images[(i, part.index)].data_url: images[(i, part.index)]
               for part in message.images}
    blocks: list[Block] = []
    for part in content_parts(i, message, images):
        if part["type"] == "text":
            blocks.append(part)
            continue
        image = encoded[part["image_url"]["url"]]
        blocks.append({"type": "image", "source": {"type": "base64",
                                                   "media_type": image.media_type,
                                                   "data": image.base64}})
    return blocks


def _call_input(i: int, j: int, arguments: str) -> Any:
    """A call's arguments (JSON text) as the object `tool_use.input` must be."""
    where = f"messages[{i}].tool_calls[{j}].function.arguments"
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}' must be a JSON object for {API}.", param=where)
    return value


def tools_json(tools: tuple[ToolSpec, ...], choice: ToolChoice | None,
               parallel: bool) -> dict[str, Any]:
    """`tools` and `tool_choice`. `strict` is not sent: the tools stage validates every call
    against its schema whatever the upstream does."""
    specs: list[dict[str, Any]] = []
    for t in tools:
        spec: dict[str, Any] = {"name": t.name, "input_schema": t.parameters}
        if t.description:
            spec["description"] = t.description
        specs.append(spec)
    mode = "auto" if choice is None else choice.mode
    tool_choice: dict[str, Any] = {"type": TOOL_CHOICES[mode]}
    if choice is not None and mode == "function":
        tool_choice["name"] = choice.name
    if not parallel and mode != "none":
        tool_choice["disable_parallel_tool_use"] = True
    return {"tools": specs, "tool_choice": tool_choice}


def thinking_json(spec: ReasoningSpec, max_tokens: int) -> dict[str, Any]:
    """Our budget as the local backend applies it (room left for the answer under
    max_tokens: `ReasoningSpec.budget_within`), which also keeps it below max_tokens as the
    API requires; one under MIN_BUDGET cannot be asked for."""
    budget = spec.budget_within(max_tokens)
    if budget < MIN_BUDGET:
        raise UnsupportedParameter("thinking_budget", f"cannot be expressed for {API} with "
                                   f"max_tokens {max_tokens}: it leaves {budget} thinking "
                                   f"tokens, under the minimum of {MIN_BUDGET}")
    return {"type": "enabled", "budget_tokens": budget}


def tools_stage_on(request: Request) -> bool:
    """Whether the pipeline runs the tools stage on this request (pipeline.py): then calls
    go to it as text it parses and validates (anthropic_stream.py)."""
    choice = request.tool_choice
    return bool(request.tools) and not (choice is not None and choice.mode == "none")
