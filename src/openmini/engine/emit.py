"""After each decode: sample every sequence that has logits, detokenise, apply stops, emit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from openmini.decoding.bad_words import Held
from openmini.engine.backtrack import MAX_BACKTRACKS, backtrack, dead_end_position
from openmini.engine.model import LlamaModel
from openmini.engine.output import End, drain, emit_text, flush_hooks
from openmini.engine.sampling import NO_TOKEN, Draw
from openmini.engine.scheduler import Scheduler
from openmini.engine.sequence import EngineRequest, Seq
from openmini.hooks.base import HookError
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    Failed,
    FinishReason,
    TokenLogprob,
    TopLogprob,
    Usage,
)

if TYPE_CHECKING:
    from openmini.engine.engine import EngineStats


class Emitter:
    def __init__(self, model: LlamaModel, scheduler: Scheduler, stream_interval: float = 0.0,
                 max_backtracks: int = MAX_BACKTRACKS):
        self.model = model
        self.stream_interval = stream_interval
        self.scheduler = scheduler
        self.eog = model.eog_ids
        self.max_backtracks = max_backtracks

    def sample_all(self, stats: EngineStats) -> None:
        outbox: dict[EngineRequest, list[Event]] = {}
        for seq in list(self.scheduler.running):
            if seq.batch_index < 0 or seq.req.cancelled or seq.req.done:
                continue
            try:
                self._sample(seq, outbox, stats)
            except HookError as exc:  # a hook raised: the request ends with its error
                self._fail(seq.req, exc, outbox)
        now = time.monotonic()
        for req, events in outbox.items():
            req.deliver(events, now, self.stream_interval)

    def _sample(self, seq: Seq, outbox: dict[EngineRequest, list[Event]],
                stats: EngineStats) -> None:
        row = self.model.logits_row(seq.batch_index)
        for child in seq.children:  # n > 1: children share the prompt cells and logits
            self.model.seq_cp(seq.seq_id, child.seq_id, 0, seq.n_past - seq.req.pos_shift)
            child.n_past, child.waiting_fork = seq.n_past, False
            self._advance(child, child.sampler.sample(row.copy()), outbox, stats)
            stats.tokens_generated += 1
        seq.children = []
        self._advance(seq, seq.sampler.sample(row), outbox, stats)
        stats.tokens_generated += 1

    def _fail(self, req: EngineRequest, error: Exception,
              outbox: dict[EngineRequest, list[Event]]) -> None:
        for seq in [s for s in self.scheduler.running if s.req is req]:
            self.scheduler.retire(seq)
        req.done = True
        events, req.held = [*req.held, *outbox.pop(req, [])], []
        req.sink([*events, Failed(error)])

    def _advance(self, seq: Seq, draw: Draw, outbox: dict[EngineRequest, list[Event]],
                 stats: EngineStats) -> None:
        events = outbox.setdefault(seq.req, [])
        token = draw.token
        if token == NO_TOKEN:  # every candidate here is banned: back up one more token
            self._backtrack(seq, dead_end_position(seq), events, stats)
            return
        seq.sampler.accept(token)
        seq.n_generated += 1
        seq.req.completion_tokens += 1
        if token in self.eog and (not seq.req.params.ignore_eos or seq.sampler.finished()):
            self.finish(seq, "stop", None, events)
            return
        seq.tokens.append(token)
        piece = self.model.piece(token)
        logprobs = self._logprobs(draw, piece) if draw.logprob is not None else None
        if seq.guard is None:
            end = emit_text(seq, token, seq.text.push(piece), logprobs, events)
        else:
            state = seq.text.getstate()
            text = seq.text.push(piece)
            partial = bool(seq.text.getstate()[0])
            hit = seq.guard.push(Held(token, text, logprobs, partial, state))
            if hit is not None:  # a banned phrase just completed
                self._backtrack(seq, hit, events, stats)
                return
            end = self._release(seq, seq.guard.release(), events)
        if end is not None:
            self.finish(seq, end[0], end[1], events)
        elif seq.n_generated >= seq.req.max_tokens:
            self.finish(seq, "length", None, events)

    def _release(self, seq: Seq, held: list[Held], events: list[Event]) -> End | None:
        for entry in held:
            end = emit_text(seq, entry.token, entry.text, entry.logprobs, events)
            if end is not None:
                return end
        return None

    def _backtrack(self, seq: Seq, position: int | None, events: list[Event],
                   stats: EngineStats) -> None:
        dropped = None
        if position is not None:
            dropped = backtrack(seq, self.model, position, self.max_backtracks)
        if dropped is None:  # no way around the banned phrases left: end this choice
            self.finish(seq, "content_filter", None, events)
            return
        stats.backtracks += 1
        stats.tokens_backtracked += dropped

    def _logprobs(self, draw: Draw, piece: bytes) -> tuple[TokenLogprob, ...]:
        top = tuple(
            TopLogprob(self._text(t), lp, tuple(self.model.piece(t))) for t, lp in draw.top or ()
        )
        return (TokenLogprob(piece.decode("utf-8", "replace"), float(draw.logprob or 0.0),
                             tuple(piece), top),)

    def _text(self, token: int) -> str:
        return self.model.piece(token).decode("utf-8", "replace")

    def finish(self, seq: Seq, reason: FinishReason, stop: str | None, events: list[Event]
               ) -> None:
        """Close one choice; the last choice of a request closes the request with its usage."""
        req = seq.req
        if reason != "cancelled":
            if stop is None:
                end = self._drain(seq, events)
                reason, stop = end if end is not None else (reason, None)
            else:  # ended by a stop string or a hook: what is held past it is dropped
                flush_hooks(seq, events)
            events.append(ChoiceFinished(seq.index, reason, stop))
        if seq.thinking is not None:
            req.reasoning_tokens += seq.thinking.tokens
        self.scheduler.retire(seq)
        req.open_choices -= 1
        if req.open_choices == 0 and not req.done:
            req.done = True
            if reason != "cancelled":
                events.append(Done(Usage(len(req.prompt), req.completion_tokens,
                                         req.cached_tokens, req.reasoning_tokens),
                                   engine_seconds=time.monotonic() - req.submitted_at))

    def _drain(self, seq: Seq, events: list[Event]) -> End | None:
        """The choice ends: release what is held back (tokens the bad_words guard kept, a
        partial character, the reasoning split, a partial stop string, the hooks)."""
        end = self._release(seq, seq.guard.flush() if seq.guard else [], events)
        if end is not None:
            flush_hooks(seq, events)
            return end
        return drain(seq, seq.text.flush(), events)
