"""Wire models -> the internal `Request` / `SamplingParams`, with the cross-field rules
pydantic cannot express (aliases, capability limits, parameters accepted only as no-ops)."""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import TypeVar

from openmini.backends.base import Capabilities
from openmini.code.check import code_check_of
from openmini.code.fim import fim_check_of
from openmini.decoding.bad_words import check_phrases
from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.hooks.base import TokenHook
from openmini.hooks.criteria import stop_criteria
from openmini.hooks.registry import hooks_from_specs
from openmini.reasoning.effort import reasoning_spec
from openmini.server.constraints import constraint_of
from openmini.server.content import message_content
from openmini.server.schemas import (
    ChatCompletionRequest,
    CodebaseIn,
    CompletionRequest,
    GenerationFields,
    MessageIn,
)
from openmini.server.tool_convert import message_tool_calls, tool_call_id, tools_of
from openmini.types import ChatMessage, Codebase, Request, SamplingParams

T = TypeVar("T")


def chat_request(body: ChatCompletionRequest, caps: Capabilities, request_id: str) -> Request:
    if not caps.chat:
        raise InvalidRequest("This model does not support chat completions.", param="model")
    logprobs = bool(body.logprobs)
    if body.top_logprobs and not logprobs:
        raise InvalidRequest("'top_logprobs' requires 'logprobs' to be true.",
                             param="top_logprobs")
    if body.store:
        raise UnsupportedParameter("store", "is not supported when true: openmini stores no "
                                   "completions")
    messages = tuple(_message(i, m) for i, m in enumerate(body.messages))
    max_tokens = _max_tokens(body.max_tokens, body.max_completion_tokens)
    sampling = sampling_params(body, max_tokens, logprobs, body.top_logprobs or 0, caps)
    constraint = constraint_of(body.response_format, body.structured_outputs)
    tools, tool_choice = tools_of(body)
    request = _request(body, caps, request_id, sampling, messages=messages,
                       constraint=constraint)
    reasoning = reasoning_spec(body.reasoning_effort, body.thinking_budget)
    if reasoning is not None:
        request = replace(request, reasoning=reasoning)
    if _continues(body, caps):
        request = replace(request, continue_final=True)
    if body.code_check is not None:
        check = body.code_check
        request = replace(request, code_check=code_check_of(check.mode, check.languages,
                                                            check.max_repairs))
    if not tools and tool_choice is None:
        return request
    return replace(request, tools=tools, tool_choice=tool_choice,
                   parallel_tool_calls=body.parallel_tool_calls is not False)


def completion_request(body: CompletionRequest, caps: Capabilities, request_id: str) -> Request:
    if not caps.completions:
        raise InvalidRequest("This model does not support text completions.", param="model")
    if body.echo:
        raise UnsupportedParameter("echo", "is not supported when true")
    n = body.n or 1
    if body.best_of is not None and body.best_of not in (1, n):
        raise UnsupportedParameter("best_of", "is only supported when equal to 'n' or 1")
    logprobs = body.logprobs is not None
    sampling = sampling_params(body, body.max_tokens, logprobs, body.logprobs or 0, caps)
    constraint = constraint_of(None, body.structured_outputs)
    request = _request(body, caps, request_id, sampling, prompt=_prompt(body.prompt),
                       constraint=constraint)
    return _infill(body, caps, request)


def _infill(body: CompletionRequest, caps: Capabilities, request: Request) -> Request:
    """`suffix` (fill in the middle; "" is no suffix, as OpenAI has it) and `fim_check` with
    its `language` (docs/code.md, "Fill-in-the-middle")."""
    if body.language is not None and not body.fim_check:
        raise InvalidRequest("'language' is only allowed with 'fim_check'.", param="language")
    if body.fim_check and not body.suffix:
        raise InvalidRequest("'fim_check' needs a non-empty 'suffix'.", param="fim_check")
    if not body.suffix:
        return request
    if not caps.fim:
        raise UnsupportedParameter("suffix", "is not supported by this model (its vocabulary "
                                   "has no fill-in-the-middle tokens)")
    if body.fim_check and body.stream:
        raise UnsupportedParameter("fim_check", "is not supported with stream (a middle is "
                                   "checked whole)")
    check = fim_check_of(body.language) if body.fim_check else None
    return replace(request, suffix=body.suffix, fim_check=check)


def sampling_params(body: GenerationFields, max_tokens: int | None, logprobs: bool,
                    top_logprobs: int, caps: Capabilities) -> SamplingParams:
    if logprobs and not caps.logprobs:
        raise UnsupportedParameter("logprobs", "is not supported by this model")
    defaults = SamplingParams()
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=_or(body.temperature, defaults.temperature),
        top_p=_or(body.top_p, defaults.top_p),
        top_k=_or(body.top_k, defaults.top_k),
        min_p=_or(body.min_p, defaults.min_p),
        seed=body.seed,
        frequency_penalty=_or(body.frequency_penalty, defaults.frequency_penalty),
        presence_penalty=_or(body.presence_penalty, defaults.presence_penalty),
        repetition_penalty=_or(body.repetition_penalty, defaults.repetition_penalty),
        logit_bias=_logit_bias(body.logit_bias),
        stop=_stop(body.stop),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        ignore_eos=bool(body.ignore_eos),
        bad_words=check_phrases(body.bad_words),
    )


def _request(body: GenerationFields, caps: Capabilities, request_id: str,
             sampling: SamplingParams, messages: tuple[ChatMessage, ...] | None = None,
             prompt: str | None = None, constraint: Constraint | None = None) -> Request:
    n = body.n or 1
    if n > caps.max_n:
        raise InvalidRequest(f"'n' must be at most {caps.max_n} for this model.", param="n")
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest("'stream_options' is only allowed when 'stream' is true.",
                             param="stream_options")
    return Request(model=body.model, messages=messages, prompt=prompt, sampling=sampling, n=n,
                   priority=body.priority or 0, request_id=request_id, constraint=constraint,
                   stream=bool(body.stream), hooks=_hooks(body), codebase=_codebase(body))


def _codebase(body: GenerationFields) -> Codebase | None:
    return None if body.codebase is None else codebase_from(body.codebase)


def codebase_from(spec: CodebaseIn) -> Codebase:
    """A request's Codebase from the validated field (HTTP and the Python API alike)."""
    path = posixpath.normpath(spec.path).lstrip("/") if spec.path else None  # ./a.py: a.py
    return Codebase(spec.index, spec.k, spec.max_tokens, path)


def _hooks(body: GenerationFields) -> tuple[TokenHook, ...]:
    """Stop criteria first (they see the model's text), then the named hooks in order."""
    criteria = stop_criteria(body.stop_regex, body.max_sentences, body.max_time)
    if not body.hooks:
        return criteria
    return (*criteria, *hooks_from_specs(body.hooks))


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def _max_tokens(max_tokens: int | None, max_completion_tokens: int | None) -> int | None:
    if None not in (max_tokens, max_completion_tokens) and max_tokens != max_completion_tokens:
        raise InvalidRequest("'max_tokens' and 'max_completion_tokens' differ; send only one.",
                             param="max_completion_tokens")
    return max_completion_tokens if max_completion_tokens is not None else max_tokens


def _message(i: int, message: MessageIn) -> ChatMessage:
    content, images = message_content(i, message)
    return ChatMessage(role=message.role, content=content, name=message.name,
                       tool_calls=message_tool_calls(i, message),
                       tool_call_id=tool_call_id(i, message), images=images)


def _prompt(prompt: str | list[object]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    raise InvalidRequest("'prompt' must be a string or a list holding one string "
                         "(batched and token-id prompts are not supported).", param="prompt")


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(stop)


def _logit_bias(bias: dict[str, float] | None) -> tuple[tuple[int, float], ...]:
    if not bias:
        return ()
    pairs = []
    for key, value in bias.items():
        if not (key.isascii() and key.isdigit()):
            raise InvalidRequest(f"Invalid 'logit_bias' key '{key}': keys must be token ids.",
                                 param="logit_bias")
        pairs.append((int(key), float(value)))
    return tuple(pairs)


def _continues(body: ChatCompletionRequest, caps: Capabilities) -> bool:
    """vLLM's `continue_final_message` (with `add_generation_prompt: false`): the final
    assistant message is continued, not answered."""
    if body.add_generation_prompt is False and not body.continue_final_message:
        raise UnsupportedParameter("add_generation_prompt", "false is supported only with "
                                   "continue_final_message true")
    if not body.continue_final_message:
        return False
    if body.add_generation_prompt is not False:
        raise InvalidRequest("continue_final_message needs add_generation_prompt false.",
                             param="add_generation_prompt")
    if body.messages[-1].role != "assistant":
        raise InvalidRequest("continue_final_message needs a final assistant message.",
                             param="messages")
    if not caps.prefill:
        raise UnsupportedParameter("continue_final_message", "is not supported by this model")
    return True
