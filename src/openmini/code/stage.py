"""The `code_check` pipeline stage: the code in each answer parsed, reported, or repaired.

Each choice's text is followed by a `FenceScanner`. When the choice finishes, its blocks'
diagnostics go on its `ChoiceFinished` (`CodeReport`), which the edges write as
`message.code_diagnostics` / the last chunk's `delta.code_diagnostics`.

- `report`: the text passes through untouched, as it is generated.
- `repair`: a block is held back from its opening fence until it closes and parses; one that
  parses is passed on at once (prose around blocks streams as it comes). A block that does
  not parse holds back everything after it; when the choice ends, each broken block is asked
  for again (`repair_prompt`: the diagnostics, each with its line, fed back, the answer so
  far as the assistant's turn; a later attempt also sees the earlier ones that failed, each
  followed by its own diagnostics, `retry_prompt`), at most `max_repairs` times, and the
  best version (a clean one, else the one with the fewest errors) is spliced in before the
  held text goes out; a block that `max_tokens` cut off and no regeneration made whole is
  cut back to its last complete top-level statement (when that parses). Not streaming, the
  whole answer is held, so an answer that is code without a fence can be repaired too;
  streaming, such an answer is already out and is reported only. Usage counts every attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from openmini.code.blocks import FenceScanner
from openmini.code.check import (
    Checked,
    CodeCheck,
    check_answer,
    check_block,
    code_of_reply,
    complete_prefix,
    repair_prompt,
    retry_prompt,
    splice,
)
from openmini.code.parse import parse
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    CodeReport,
    Done,
    Event,
    Request,
    TextDelta,
    Usage,
)

Generate = Callable[[Request], AsyncIterator[Event]]


@dataclass(slots=True)
class _Answer:
    scanner: FenceScanner = field(default_factory=FenceScanner)
    emitted: int = 0  # how much of the text has gone out
    broken_at: int | None = None  # the first broken block's fence line (repair: held after)


class CodeCheckStage:
    """One request's stage: feed it the inner events, yield what it returns."""

    def __init__(self, request: Request, spec: CodeCheck, generate: Generate):
        self.request, self.spec, self.generate = request, spec, generate
        self.hold_all = spec.mode == "repair" and not request.stream
        self.answers = [_Answer() for _ in range(request.n)]
        self.spent = Usage()  # the repairs' usage

    async def feed(self, event: Event) -> list[Event]:
        if isinstance(event, TextDelta):
            return [self._text(event)]
        if isinstance(event, ChoiceFinished):
            return await self._finished(event)
        if isinstance(event, Done):
            return [replace(event, usage=event.usage + self.spent)]
        return [event]

    def _text(self, event: TextDelta) -> TextDelta:
        answer = self.answers[event.index]
        closed = answer.scanner.push(event.text)
        if self.spec.mode == "report":
            answer.emitted = len(answer.scanner.text)
            return event
        for i, block in enumerate(closed, len(answer.scanner.blocks) - len(closed)):
            if answer.broken_at is None:
                checked = check_block(answer.scanner.text, block, i, self.spec.languages)
                if checked is not None and not checked.parsed.ok:
                    answer.broken_at = block.fence_at
        return replace(event, text=self._release(answer))

    def _release(self, answer: _Answer) -> str:
        """The text that may go out now (repair mode)."""
        if self.hold_all:
            return ""
        limit = answer.scanner.settled
        if answer.scanner.open_at is not None:
            limit = min(limit, answer.scanner.open_at)
        if answer.broken_at is not None:
            limit = min(limit, answer.broken_at)
        out = answer.scanner.text[answer.emitted:limit] if limit > answer.emitted else ""
        answer.emitted = max(answer.emitted, limit)
        return out

    async def _finished(self, event: ChoiceFinished) -> list[Event]:
        answer = self.answers[event.index]
        answer.scanner.finish()
        text = answer.scanner.text
        checked = check_answer(text, self.spec, answer.scanner.blocks)
        repairs, reason = 0, event.finish_reason
        if self.spec.mode == "repair":
            text, checked, repairs, cut = await self._repair(text, checked, answer.emitted,
                                                             reason == "length")
            reason = "length" if cut else reason
        rest = text[answer.emitted:]
        answer.emitted = len(text)
        diagnostics = tuple(d for c in checked for d in c.diagnostics())
        out: list[Event] = [TextDelta(event.index, rest)] if rest else []
        report = CodeReport(diagnostics, repairs if self.spec.mode == "repair" else None)
        return [*out, replace(event, finish_reason=reason, code=report)]

    async def _repair(self, text: str, checked: list[Checked], emitted: int, cut_off: bool
                      ) -> tuple[str, list[Checked], int, bool]:
        """Each broken block not yet sent, asked for again; the text with the best versions,
        their parses, the regenerations made and whether the last one was cut off.
        `cut_off`: the answer itself ended at `max_tokens` (its last block is unfinished)."""
        repairs, cut = 0, False
        for k in range(len(checked) - 1, -1, -1):  # from the end: offsets before stay true
            item = checked[k]
            if item.parsed.ok or item.block.fence_at < emitted:
                continue
            best, best_cut = item, cut_off and k == len(checked) - 1
            failed: list[ChatMessage] = []  # this block's attempts that did not parse
            for _ in range(self.spec.max_repairs):
                reply, finish = await self._ask(text, best, failed)
                repairs += 1
                code = code_of_reply(reply, item.language)
                attempt = parse(code, item.language)
                if len(attempt.diagnostics) < len(best.parsed.diagnostics):
                    text, block = splice(text, best.block, code)
                    best = Checked(item.index, block, attempt)
                    cut = best_cut = finish == "length"
                    failed = []  # the answer now holds this attempt, asked about anew
                else:
                    failed += [ChatMessage("assistant", reply),
                               ChatMessage("user", retry_prompt(attempt))]
                if best.parsed.ok:
                    break
            if not best.parsed.ok and best_cut:  # unfinished: keep its complete statements
                kept = complete_prefix(best.block.code(text), item.language)
                if kept is not None:
                    text, block = splice(text, best.block, kept.source.decode())
                    best = Checked(item.index, block, kept)
            checked[k] = best
        return text, checked, repairs, cut

    async def _ask(self, text: str, broken: Checked, failed: list[ChatMessage]
                   ) -> tuple[str, str | None]:
        """One regeneration: the answer so far as the assistant's turn, then the feedback,
        then each earlier attempt at this block with its own feedback (`failed`)."""
        from openmini.pipeline import generate_whole

        turns = (ChatMessage("assistant", text), ChatMessage("user", repair_prompt(broken)),
                 *failed)
        request = replace(self.request, messages=(*(self.request.messages or ()), *turns),
                          n=1, stream=False, tools=(), tool_choice=None, constraint=None,
                          hooks=(), code_check=None, continue_final=False)
        completion = await generate_whole(self.generate, request)
        self.spent = self.spent + completion.usage
        return completion.text, completion.choices[0].finish_reason


async def run_with_code_check(request: Request, events: AsyncIterator[Event],
                              generate: Generate) -> AsyncIterator[Event]:
    """`events` (the request's stream) through the stage; `generate` makes repairs."""
    assert request.code_check is not None
    stage = CodeCheckStage(request, request.code_check, generate)
    try:
        async for event in events:
            for out in await stage.feed(event):
                yield out
    finally:
        await events.aclose()  # type: ignore[attr-defined]
