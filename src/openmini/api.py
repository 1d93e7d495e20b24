"""In-process Python API: the same pipeline the server uses, without HTTP.

    from openmini.api import OpenMini
    with OpenMini(model="fast") as om:
        print(om.chat("Write a haiku about CPUs").text)
        for piece in om.stream("Count to five"):
            print(piece, end="", flush=True)

`AsyncOpenMini` is the async core; `OpenMini` is a thin sync wrapper running it on a private
event loop thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openmini.backends.base import Backend
from openmini.code.check import CodeCheck, code_check_of
from openmini.code.fim import fim_check_of
from openmini.config import EngineConfig, ServerConfig
from openmini.decoding.bad_words import check_phrases
from openmini.decoding.constraint import Constraint
from openmini.errors import InvalidRequest
from openmini.hooks.base import TokenHook
from openmini.hooks.criteria import stop_criteria
from openmini.pipeline import Completion, Pipeline, collect
from openmini.reasoning.effort import reasoning_spec
from openmini.tools.spec import tool_choice_from_openai, tool_specs_from_openai
from openmini.types import (
    ChatMessage,
    Codebase,
    Event,
    Failed,
    Request,
    SamplingParams,
    TextDelta,
)

if TYPE_CHECKING:
    from openmini.index.manager import IndexManager

Messages = str | Sequence[ChatMessage] | Sequence[dict[str, Any]]


def to_messages(messages: Messages) -> tuple[ChatMessage, ...]:
    """Messages from a string, ChatMessages, or dicts whose content is a string or a list of
    parts: text, and images as paths, bytes, PIL images or `image_url` (vision/parts.py)."""
    if isinstance(messages, str):
        return (ChatMessage("user", messages),)
    from openmini.vision.parts import message

    return tuple(m if isinstance(m, ChatMessage) else message(m["role"], m.get("content"))
                 for m in messages)


def _response_constraint(response_format: dict[str, Any]) -> Constraint | None:
    from openmini.server.constraints import constraint_of
    from openmini.server.schemas import ResponseFormat

    return constraint_of(ResponseFormat.model_validate(response_format, strict=False), None)


def _code_check(spec: CodeCheck | dict[str, Any] | None) -> CodeCheck | None:
    if spec is None or isinstance(spec, CodeCheck):
        return spec
    if unknown := sorted(set(spec) - {"mode", "languages", "max_repairs"}):
        raise InvalidRequest(f"'code_check.{unknown[0]}' is not a code_check field.",
                             param=f"code_check.{unknown[0]}")
    return code_check_of(spec.get("mode", "report"), spec.get("languages"),
                         spec.get("max_repairs"))


def codebase_of(spec: Codebase | dict[str, Any] | None) -> Codebase | None:
    """A request's `codebase` from the dict the HTTP API takes, checked by the same schema
    (400 naming `codebase.<field>`), or a Codebase as it is."""
    if spec is None or isinstance(spec, Codebase):
        return spec
    from pydantic import ValidationError

    from openmini.server.convert import codebase_from
    from openmini.server.schemas import CodebaseIn
    from openmini.server.validation import validation_error

    try:
        return codebase_from(CodebaseIn.model_validate(spec))
    except ValidationError as exc:
        raise validation_error([{**e, "loc": ("codebase", *e["loc"])}
                                for e in exc.errors()]) from None


def default_indexes(data_dir: str | os.PathLike[str] | None) -> IndexManager:
    """The codebase indexes of a data directory (default: the user data directory, the one
    `openmini index` and the server use); the embedding model opens on first need, on half
    the CPUs (a model in this process computes on them too)."""
    from openmini.index.manager import IndexManager

    config = ServerConfig(data_dir=str(data_dir) if data_dir is not None else None)
    return IndexManager.for_config(config, threads=max(1, len(os.sched_getaffinity(0)) // 2))


class AsyncOpenMini:
    def __init__(self, model: str = "default", *, backend: Backend | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 images: ServerConfig | None = None,
                 indexes: IndexManager | None = None,
                 data_dir: str | os.PathLike[str] | None = None, **engine: Any):
        """`images`: a ServerConfig whose image settings (URLs, hosts, file roots, limits)
        apply to `image_url` parts; the defaults when None. `indexes`: the codebase indexes
        `codebase` requests search (not closed here); else those of `data_dir` (default: the
        user data directory, where `openmini index add` puts them), opened on first use."""
        if backend is None:
            from openmini.backends.local import LocalBackend

            backend = LocalBackend(EngineConfig(model=model, **engine), progress=progress)
        from openmini.vision.policy import from_config
        from openmini.vision.stage import Intake

        self.backend = backend
        self._owned_indexes = indexes is None
        self.indexes = indexes if indexes is not None else default_indexes(
            Path(data_dir) if data_dir is not None else None)
        self.pipeline = Pipeline(backend, intake=Intake(*from_config(images or ServerConfig())),
                                 indexes=self.indexes)
        self.model = backend.model_ids()[0]

    def request(self, messages: Messages | None = None, *, prompt: str | None = None,
                n: int = 1, priority: int = 0, deadline: float | None = None,
                response_format: dict[str, Any] | None = None,
                constraint: Constraint | None = None, tools: Sequence[Any] | None = None,
                tool_choice: Any = None, parallel_tool_calls: bool = True,
                reasoning_effort: str | None = None, thinking_budget: int | None = None,
                hooks: Sequence[TokenHook] = (), stop_regex: Sequence[str] | None = None,
                max_sentences: int | None = None, max_time: float | None = None,
                code_check: CodeCheck | dict[str, Any] | None = None,
                suffix: str | None = None, fim_check: bool = False,
                language: str | None = None,
                codebase: Codebase | dict[str, Any] | None = None, **sampling: Any) -> Request:
        """Build a Request. `priority`: lower runs first. `deadline`: seconds from now by
        which the request must have started, or it fails with DeadlineExceeded.
        `response_format` (OpenAI's dict) or `constraint` (decoding.Constraint: json_schema,
        regex, choice, grammar) constrain the output; `tools` / `tool_choice` take OpenAI's
        shapes, and the calls come back on `Completion.choices[i].tool_calls`.
        `reasoning_effort` / `thinking_budget`: think first (`Choice.reasoning`,
        `usage.reasoning_tokens`). `hooks`: callables that see each token before it is
        emitted (openmini.hooks); `stop_regex`, `max_sentences`, `max_time`: stop criteria.
        `code_check` (`{"mode": "report" | "repair", "languages", "max_repairs"}` or a
        code.check.CodeCheck): the answer's code parsed (`Choice.code`), broken blocks
        regenerated in repair mode. `suffix` (with `prompt`): fill in the middle, on a model
        whose vocabulary has FIM tokens; `fim_check` resamples a middle that breaks the
        file's parse (`language`: the file's, else detected). `codebase` (`{"index", "k",
        "max_tokens", "path"}` or a types.Codebase): code retrieved from that index placed in
        the prompt (`Completion.context` lists it)."""
        if "stop" in sampling and isinstance(sampling["stop"], str):
            sampling["stop"] = (sampling["stop"],)
        if "bad_words" in sampling:
            sampling["bad_words"] = check_phrases(sampling["bad_words"])
        params = replace(SamplingParams(), **sampling)
        msgs = to_messages(messages) if messages is not None else None
        due = None if deadline is None else time.monotonic() + deadline
        if response_format is not None:
            constraint = _response_constraint(response_format)
        specs = tool_specs_from_openai(list(tools)) if tools is not None else ()
        choice = tool_choice_from_openai(tool_choice, specs) if specs or tool_choice else None
        criteria = stop_criteria(stop_regex, max_sentences, max_time)
        if fim_check and not suffix:
            raise InvalidRequest("'fim_check' needs a non-empty 'suffix'.", param="fim_check")
        return Request(model=self.model, messages=msgs, prompt=prompt, sampling=params, n=n,
                       priority=priority, deadline=due, constraint=constraint, tools=specs,
                       tool_choice=choice, parallel_tool_calls=parallel_tool_calls,
                       reasoning=reasoning_spec(reasoning_effort, thinking_budget),
                       hooks=(*criteria, *hooks), code_check=_code_check(code_check),
                       suffix=suffix or None,
                       fim_check=fim_check_of(language) if fim_check else None,
                       codebase=codebase_of(codebase))

    def events(self, request: Request) -> AsyncIterator[Event]:
        return self.pipeline.run(request)

    async def chat(self, messages: Messages, **kwargs: Any) -> Completion:
        return await self.run(self.request(messages, **kwargs))

    async def complete(self, prompt: str, **kwargs: Any) -> Completion:
        return await self.run(self.request(prompt=prompt, **kwargs))

    async def run(self, request: Request) -> Completion:
        """The request's whole answer, with the code its `codebase` placed (`context`)."""
        done = await collect(self.events(request), request.n)
        if request.codebase is not None:
            done.context = list(request.codebase.sources)
        return done

    async def stream(self, messages: Messages, **kwargs: Any) -> AsyncIterator[str]:
        async for event in self.events(replace(self.request(messages, **kwargs), stream=True)):
            if isinstance(event, TextDelta) and event.text:
                yield event.text
            elif isinstance(event, Failed):
                raise event.error

    async def close(self) -> None:
        await self.backend.close()
        if self._owned_indexes:
            await asyncio.to_thread(self.indexes.close)


class OpenMini:
    """Blocking wrapper over AsyncOpenMini."""

    def __init__(self, model: str = "default", **kwargs: Any):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="openmini-api")
        self._thread.start()
        try:
            self._core = self._call(_build(model, kwargs))
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result()

    def chat(self, messages: Messages, **kwargs: Any) -> Completion:
        return self._call(self._core.chat(messages, **kwargs))

    def complete(self, prompt: str, **kwargs: Any) -> Completion:
        return self._call(self._core.complete(prompt, **kwargs))

    def stream(self, messages: Messages, **kwargs: Any) -> Iterator[str]:
        agen = self._core.stream(messages, **kwargs)
        try:
            while True:
                try:
                    yield self._call(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._call(agen.aclose())

    def close(self) -> None:
        self._call(self._core.close())
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenMini:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _build(model: str, kwargs: dict[str, Any]) -> AsyncOpenMini:
    return AsyncOpenMini(model, **kwargs)
