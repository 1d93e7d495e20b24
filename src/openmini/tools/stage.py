"""The pipeline stage for requests with tools: model text -> content + validated tool calls.

Each choice's text goes through a `HermesStreamSplitter`; text outside `<tool_call>` blocks
stays content, each call becomes `ToolCallDelta`s (id and name first, then argument
fragments), and a choice that called finishes with `tool_calls`. Every call is validated with
jsonschema against its function before the request completes:

- streaming: deltas go out as they are generated (a grammar-constrained backend cannot produce
  an invalid call); an invalid one still ends the stream with an error, never passes silently;
- not streaming: the whole attempt is held; an invalid call is retried with the validation
  errors fed back to the model (`retries` times), then reported as an error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from openmini.errors import OpenMiniError
from openmini.tools.calls import ToolCall
from openmini.tools.grammar import JSON_OPENERS
from openmini.tools.json_stream import JsonCallStreamer
from openmini.tools.spec import ToolSpec
from openmini.tools.stream import (
    FENCE,
    ArgumentsDelta,
    CallEnd,
    CallProblem,
    CallStart,
    ContentDelta,
    HermesStreamSplitter,
    StreamEvent,
)
from openmini.tools.validate import retry_feedback, validate_call
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Failed,
    Request,
    TextDelta,
    ToolCallDelta,
    Usage,
)

Generate = Callable[[Request], AsyncIterator[Event]]


class InvalidToolCall(OpenMiniError):
    """The model's call did not validate (after the retries): the model's fault, a 500."""

    def __init__(self, message: str):
        super().__init__(message, code="invalid_tool_call")


@dataclass(slots=True)
class _Choice:
    splitter: HermesStreamSplitter
    raw: str = ""
    names: dict[int, str] = field(default_factory=dict)
    arguments: dict[int, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    mode: str = ""  # "" undecided, "tags" (<tool_call> blocks), "json" (a bare/fenced call)
    json: JsonCallStreamer | None = None  # mode "json": the calls as they are written
    valid: set[int] = field(default_factory=set)  # calls that closed and validated


class ToolOutput:
    """Splits one request's events; `errors()` lists the invalid calls seen so far."""

    def __init__(self, specs: tuple[ToolSpec, ...], n: int, parallel: bool = True,
                 json_calls: bool = True):
        self._specs = {spec.name: spec for spec in specs}
        self._parallel = parallel
        self._json_calls = json_calls  # False with a response format: `{` opens the answer
        self._choices = [_Choice(HermesStreamSplitter(json_fence=json_calls)) for _ in range(n)]

    def feed(self, event: Event) -> list[Event]:
        if isinstance(event, TextDelta):
            return self._text(event)
        if isinstance(event, ChoiceFinished):
            choice = self._choices[event.index]
            if not choice.mode:  # cut off while it could still have been a ```json fence
                choice.mode = "tags"
                choice.splitter.push(choice.raw)
            last = choice.json.finish() if choice.json is not None else (
                choice.splitter.finish())
            out = self._convert(event.index, last, None)
            if event.finish_reason == "length":  # cut off: a half call is not the model's error
                choice.errors.clear()
            called = bool(choice.names) and event.finish_reason == "stop"
            return [*out, replace(event, finish_reason="tool_calls") if called else event]
        return [event]

    def _text(self, event: TextDelta) -> list[Event]:
        """Output opening with `{`, `[` or a ```json fence is calls written as JSON (auto
        mode: the grammar keeps prose from opening so), streamed as they are written
        (tools/json_stream.py). Any other fence opens a code block, which is prose and streams
        as content; the opening is held until it says which it is."""
        choice = self._choices[event.index]
        choice.raw += event.text
        text = event.text
        if not choice.mode:
            choice.mode = self._mode(choice.raw)
            if choice.mode == "json":
                choice.json = JsonCallStreamer()
            text = choice.raw if choice.mode else ""
        if choice.json is not None:
            return self._convert(event.index, choice.json.push(text), event)
        return self._convert(event.index, choice.splitter.push(text) if text else [], event)

    def _mode(self, raw: str) -> str:
        """"json", "tags", or "" while the opening is still a prefix of a ```json fence."""
        if not raw:
            return ""
        if not self._json_calls or raw[0] not in JSON_OPENERS:
            return "tags"
        if raw[0] != "`" or raw.startswith(FENCE):
            return "json"
        return "" if FENCE.startswith(raw) else "tags"

    def errors(self) -> list[str]:
        return [e for c in self._choices for e in c.errors]

    def complete(self, event: Event) -> bool:
        """False for a delta of a call that was cut off by max_tokens."""
        return not isinstance(event, ToolCallDelta) or (
            event.call_index in self._choices[event.index].valid)

    def raw_text(self, index: int) -> str:
        return self._choices[index].raw

    def _convert(self, index: int, events: list[StreamEvent], source: TextDelta | None
                 ) -> list[Event]:
        choice, out = self._choices[index], list[Event]()
        for ev in events:
            if isinstance(ev, ContentDelta):
                out.append(TextDelta(index, ev.text))
            elif isinstance(ev, CallStart):
                if choice.names and not self._parallel:
                    choice.errors.append("more than one call while parallel_tool_calls is "
                                         "false")
                choice.names[ev.index], choice.arguments[ev.index] = ev.name, []
                out.append(ToolCallDelta(index, ev.index, "", id=ev.id, name=ev.name))
            elif isinstance(ev, ArgumentsDelta):
                choice.arguments[ev.index].append(ev.text)
                out.append(ToolCallDelta(index, ev.index, ev.text))
            elif isinstance(ev, CallEnd):
                before = len(choice.errors)
                self._validate(choice, ev.index)
                if len(choice.errors) == before:
                    choice.valid.add(ev.index)
            elif isinstance(ev, CallProblem):
                choice.errors.append(ev.message)
        if source is not None and (source.token_ids or source.logprobs):
            # keep token ids and logprobs on the stream (usage, logprobs) without the text
            out.append(TextDelta(index, "", source.token_ids, source.logprobs))
        return out

    def _validate(self, choice: _Choice, call: int) -> None:
        name, text = choice.names[call], "".join(choice.arguments[call])
        spec = self._specs.get(name)
        if spec is None:
            choice.errors.append(f"{name} (call {call + 1}): unknown function "
                                 f"(available: {', '.join(self._specs) or 'none'})")
            return
        try:
            arguments = json.loads(text)
        except json.JSONDecodeError as e:
            choice.errors.append(f"{name} (call {call + 1}): arguments are not JSON ({e.msg})")
            return
        choice.errors.extend(f"{name} (call {call + 1}): {problem}"
                             for problem in validate_call(spec, arguments))


async def run_with_tools(request: Request, generate: Generate, stream: bool,
                         retries: int) -> AsyncIterator[Event]:
    """`generate(request)` with tool-call output handling (see the module docstring). The
    final `Done` counts the tokens of every attempt, retried ones included."""
    attempt, spent = request, Usage()
    for remaining in range(retries, -1, -1):
        output = ToolOutput(request.tools, request.n, request.parallel_tool_calls,
                            json_calls=request.constraint is None)
        held: list[Event] = []
        done: Done | None = None
        async for event in _attempt(attempt, generate, output):
            if isinstance(event, Done):
                done = event
            elif stream:
                yield event
            else:
                held.append(event)
        spent = spent + done.usage if done is not None else spent
        errors = output.errors()
        if not errors:
            for event in held:
                if output.complete(event):
                    yield event
            if done is not None:
                yield replace(done, usage=spent)
            return
        if stream or remaining == 0:
            message = "The model produced an invalid tool call: " + "; ".join(errors)
            yield Failed(InvalidToolCall(message))
            return
        attempt = _with_feedback(attempt, output.raw_text(0), errors)


async def _attempt(request: Request, generate: Generate, output: ToolOutput
                   ) -> AsyncIterator[Event]:
    stream = generate(request)
    try:
        async for event in stream:
            for out in output.feed(event):
                yield out
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def _with_feedback(request: Request, raw: str, errors: list[str]) -> Request:
    assert request.messages is not None
    feedback = (ChatMessage("assistant", raw), ChatMessage("user", retry_feedback(errors)))
    return replace(request, messages=request.messages + feedback)


def calls_of(deltas: list[ToolCallDelta]) -> list[ToolCall]:
    """Assemble a choice's deltas into complete calls (non-streaming responses)."""
    calls: dict[int, list[str]] = {}
    heads: dict[int, tuple[str, str]] = {}
    for d in deltas:
        if d.id is not None and d.name is not None:
            heads[d.call_index] = (d.id, d.name)
        calls.setdefault(d.call_index, []).append(d.arguments)
    return [ToolCall(heads[i][0], heads[i][1], "".join(parts))
            for i, parts in sorted(calls.items())]

