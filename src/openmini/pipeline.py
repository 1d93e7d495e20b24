"""The one request path: Request -> stages -> backend -> stream processors -> Events.

Every entry point (HTTP, CLI, Python API, batch) calls `Pipeline.run`. A non-streaming
response is `collect()` over the same stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openmini.backends.base import Backend, Capabilities
from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.router import Router
from openmini.types import (
    ChoiceFinished,
    CodeReport,
    ContextSource,
    Done,
    Event,
    Failed,
    FinishReason,
    ReasoningDelta,
    Request,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from openmini.index.manager import IndexManager
    from openmini.tools.calls import ToolCall
    from openmini.vision.stage import Intake


class Pipeline:
    def __init__(self, backend: Backend | Router, tool_call_retries: int = 1,
                 intake: Intake | None = None, embedding_models: Collection[str] = (),
                 indexes: IndexManager | None = None):
        # every exposed model id -> its backend (router/); one backend: a router over it
        self.router = backend if isinstance(backend, Router) else Router([backend])
        self.tool_call_retries = tool_call_retries
        self.intake = intake  # the vision stage; None: image parts are refused
        self.embedding_models = frozenset(embedding_models)  # served on /v1/embeddings only
        self.indexes = indexes  # codebase indexes (the context stage); None: `codebase` 400s

    def capabilities(self, model: str) -> Capabilities:
        """What a request to `model` may ask for; ModelNotFound (404) for an unknown id,
        InvalidRequest (400) for an embedding model."""
        if model in self.embedding_models:
            raise InvalidRequest(f"'{model}' is an embedding model: it serves POST "
                                 "/v1/embeddings only.", param="model",
                                 code="model_not_supported")
        return self.router.capabilities(model)

    async def count_tokens(self, request: Request) -> int:
        """The prompt tokens `request` would take on its model, images included."""
        self.capabilities(request.model)
        return await self.router.count_tokens(await self._vision(request))

    async def run(self, request: Request) -> AsyncIterator[Event]:
        """Yield the request's events. Closing this iterator cancels the request."""
        caps = self.capabilities(request.model)
        if request.reasoning is not None and not caps.reasoning:
            raise UnsupportedParameter("reasoning_effort", "is not supported by this backend")
        if request.hooks and not caps.token_hooks:
            raise UnsupportedParameter("hooks", "(and stop_regex, max_sentences, max_time) are "
                                       "not supported by this backend")
        request = await self._vision(request)
        if request.codebase is not None:
            request = await self._context(request, caps)
        if request.tools and not (request.tool_choice and request.tool_choice.mode == "none"):
            from openmini.tools.stage import run_with_tools

            stream = run_with_tools(request, self.router.generate, request.stream,
                                    self.tool_call_retries)
        elif request.fim_check is not None:
            from openmini.code.fim_stage import run_with_fim_check

            stream = run_with_fim_check(request, self.router.generate)
        else:
            stream = self.router.generate(request)
        if request.code_check is not None:
            from openmini.code.stage import run_with_code_check

            stream = run_with_code_check(request, stream, self.router.generate)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def _context(self, request: Request, caps: Capabilities) -> Request:
        """Code retrieved from the request's codebase index, in its prompt (index/context.py)."""
        if self.indexes is None:
            raise UnsupportedParameter("codebase", "is not supported here (no codebase "
                                       "indexes)")
        from openmini.index.context import text_counter, with_context

        return await with_context(request, self.indexes, caps.repo_context,
                                  text_counter(self.router, request.model))

    async def _vision(self, request: Request) -> Request:
        """Images taken and described (vision/stage.py); the request as it is without any."""
        if not any(m.images for m in request.messages or ()):
            return request
        from openmini.vision.stage import images_of, no_vision

        if self.intake is None:
            raise no_vision(images_of(request))
        return await self.intake.resolve(request, self.capabilities(request.model).vision)


@dataclass(slots=True)
class Choice:
    index: int
    text: str = ""
    reasoning: str = ""  # the thinking block's text (reasoning_content)
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: FinishReason | None = None
    stop_reason: str | int | None = None
    tool_deltas: list[ToolCallDelta] = field(default_factory=list)
    code: CodeReport | None = None  # code_check's findings

    @property
    def tool_calls(self) -> list[ToolCall]:
        from openmini.tools.stage import calls_of

        return calls_of(self.tool_deltas)


@dataclass(slots=True)
class Completion:
    choices: list[Choice]
    usage: Usage
    engine_seconds: float = 0.0
    context: list[ContextSource] = field(default_factory=list)  # `codebase` code placed

    @property
    def text(self) -> str:
        return self.choices[0].text


async def collect(events: AsyncIterator[Event], n: int = 1) -> Completion:
    """Fold a stream into one Completion; a Failed event re-raises its error."""
    choices = [Choice(index=i) for i in range(n)]
    usage, engine_seconds = Usage(), 0.0
    async for event in events:
        if isinstance(event, TextDelta):
            choice = choices[event.index]
            choice.text += event.text
            choice.token_ids.extend(event.token_ids)
            if event.logprobs is not None:
                choice.logprobs = (choice.logprobs or []) + list(event.logprobs)
        elif isinstance(event, ReasoningDelta):
            choices[event.index].reasoning += event.text
        elif isinstance(event, ToolCallDelta):
            choices[event.index].tool_deltas.append(event)
        elif isinstance(event, ChoiceFinished):
            choices[event.index].finish_reason = event.finish_reason
            choices[event.index].stop_reason = event.stop_reason
            choices[event.index].code = event.code
        elif isinstance(event, Done):
            usage, engine_seconds = event.usage, event.engine_seconds
        elif isinstance(event, Failed):
            raise event.error
    return Completion(choices=choices, usage=usage, engine_seconds=engine_seconds)


async def generate_whole(generate: Callable[[Request], AsyncIterator[Event]], request: Request
                         ) -> Completion:
    """`generate(request)` collected into one Completion; the stream is closed (the request
    cancelled) whatever happens, a cancel of the caller included."""
    stream = generate(request)
    try:
        return await collect(stream, request.n)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
