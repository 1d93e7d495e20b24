"""Anthropic request bodies -> the internal `Request` (the one the OpenAI edge builds), with the
rules between fields that pydantic cannot express.

| Anthropic                           | internal                                       |
|-------------------------------------|------------------------------------------------|
| `max_tokens`                        | `SamplingParams.max_tokens`                    |
| `temperature`, `top_p`, `top_k`     | the same `SamplingParams` fields               |
| `stop_sequences`                    | `SamplingParams.stop`                          |
| `stream`                            | `Request.stream`                               |
| `thinking {enabled, budget_tokens}` | `Request.reasoning` (as `thinking_budget`)     |
| `thinking {disabled}`               | no reasoning                                   |
| `system`, `messages`                | `Request.messages` (content.py)                |
| `tools`, `tool_choice`              | `.tools`, `.tool_choice`, `.parallel_tool_calls` |
| `metadata.user_id`                  | accepted, not used (as OpenAI's `user`)        |
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openmini.backends.base import Capabilities
from openmini.errors import InvalidRequest, OpenMiniError, UnsupportedParameter
from openmini.reasoning.effort import MAX_BUDGET, MIN_BUDGET, ReasoningSpec, reasoning_spec
from openmini.server.anthropic.content import chat_messages
from openmini.server.anthropic.schemas import (
    CountTokensRequest,
    MessageFields,
    MessagesRequest,
    ThinkingEnabled,
    ThinkingIn,
)
from openmini.server.anthropic.tools import tools_of
from openmini.types import ChatMessage, Request, SamplingParams


@dataclass(frozen=True, slots=True)
class Converted:
    """The internal request, and per internal message the wire message it came from."""

    request: Request
    origin: tuple[int | None, ...]

    def wire_error(self, exc: BaseException) -> BaseException:
        """`exc` naming the wire block where it names an internal message part (the vision
        stage says `messages[k].content[j].image_url`; here that is the image block
        `messages[i].content[j].source`). Other errors are returned as they are."""
        if not isinstance(exc, OpenMiniError) or not (exc.param or "").startswith("messages["):
            return exc
        old = exc.param or ""
        index, _, rest = old[len("messages["):].partition("]")
        if not index.isdigit() or int(index) >= len(self.origin):
            return exc
        wire = self.origin[int(index)]
        if wire is None:
            return exc
        new = f"messages[{wire}]{rest}".replace(".image_url", ".source")
        exc.param = new
        exc.message = exc.message.replace(old, new, 1).replace("'image_url'", "'image'")
        exc.args = (exc.message,)
        return exc


def messages_request(body: MessagesRequest, caps: Capabilities, request_id: str) -> Converted:
    defaults = SamplingParams()
    sampling = SamplingParams(
        max_tokens=body.max_tokens,
        temperature=defaults.temperature if body.temperature is None else body.temperature,
        top_p=defaults.top_p if body.top_p is None else body.top_p,
        top_k=defaults.top_k if body.top_k is None else body.top_k,
        stop=tuple(body.stop_sequences or ()),
    )
    return _converted(body, caps, sampling, request_id, stream=bool(body.stream))


def count_request(body: CountTokensRequest, caps: Capabilities) -> Converted:
    """The request whose prompt is counted (nothing is generated)."""
    return _converted(body, caps, SamplingParams(), "")


def _converted(body: MessageFields, caps: Capabilities, sampling: SamplingParams,
               request_id: str, stream: bool = False) -> Converted:
    if not caps.chat:
        raise InvalidRequest("This model does not support chat messages.", param="model")
    messages, origin = chat_messages(body.system, body.messages)
    tools = tools_of(body.tools, body.tool_choice)
    request = Request(model=body.model, messages=messages, sampling=sampling,
                      request_id=request_id, stream=stream,
                      reasoning=thinking_spec(body.thinking, sampling.max_tokens, caps))
    if tools.specs or tools.choice is not None:
        request = replace(request, tools=tools.specs, tool_choice=tools.choice,
                          parallel_tool_calls=tools.parallel)
    if body.messages and body.messages[-1].role == "assistant":
        request = replace(request, continue_final=_prefill(len(body.messages) - 1,
                                                           messages[-1], caps))
    return Converted(request, origin)


def _prefill(index: int, final: ChatMessage, caps: Capabilities) -> bool:
    """A final assistant turn: Anthropic's prefill, which the model continues."""
    param = f"messages[{index}]"
    if final.role != "assistant" or final.tool_calls or not final.content:
        raise InvalidRequest("A final assistant turn (prefill) must hold text only.",
                             param=param)
    if final.content != final.content.rstrip():
        raise InvalidRequest("final assistant content cannot end with trailing whitespace",
                             param=param)
    if not caps.prefill:
        raise UnsupportedParameter(param, "(a final assistant turn, to be continued: prefill) "
                                   "is not supported by this model")
    return True


def thinking_spec(thinking: ThinkingIn | None, max_tokens: int | None,
                  caps: Capabilities) -> ReasoningSpec | None:
    """`budget_tokens` is our thinking budget: between MIN_BUDGET and MAX_BUDGET (Anthropic's
    own minimum, 1024, is not imposed) and, as Anthropic requires, below `max_tokens`."""
    if not isinstance(thinking, ThinkingEnabled):
        return None
    budget, param = thinking.budget_tokens, "thinking.budget_tokens"
    if not MIN_BUDGET <= budget <= MAX_BUDGET:
        raise InvalidRequest(f"'{param}' must be between {MIN_BUDGET} and {MAX_BUDGET} tokens, "
                             f"not {budget}.", param=param)
    if max_tokens is not None and budget >= max_tokens:
        raise InvalidRequest(f"'{param}' ({budget}) must be less than 'max_tokens' "
                             f"({max_tokens}).", param=param)
    if not caps.reasoning:
        raise UnsupportedParameter("thinking", "is not supported by this model")
    return reasoning_spec(None, budget)
