"""After each decode: sample every sequence that has logits, detokenise, apply stops, emit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from openmini.engine.model import LlamaModel
from openmini.engine.sampling import Draw
from openmini.engine.scheduler import Scheduler
from openmini.engine.sequence import EngineRequest, Seq
from openmini.types import (
    ChoiceFinished,
    Done,
    Event,
    FinishReason,
    TextDelta,
    TokenLogprob,
    TopLogprob,
    Usage,
)

if TYPE_CHECKING:
    from openmini.engine.engine import EngineStats


class Emitter:
    def __init__(self, model: LlamaModel, scheduler: Scheduler, stream_interval: float = 0.0):
        self.model = model
        self.stream_interval = stream_interval
        self.scheduler = scheduler
        self.eog = model.eog_ids

    def sample_all(self, stats: EngineStats) -> None:
        outbox: dict[EngineRequest, list[Event]] = {}
        for seq in list(self.scheduler.running):
            if seq.batch_index < 0 or seq.req.cancelled:
                continue
            row = self.model.logits_row(seq.batch_index)
            for child in seq.children:  # n > 1: children share the prompt cells and logits
                self.model.seq_cp(seq.seq_id, child.seq_id, 0, seq.n_past)
                child.n_past, child.waiting_fork = seq.n_past, False
                self._advance(child, child.sampler.sample(row.copy()), outbox)
                stats.tokens_generated += 1
            seq.children = []
            self._advance(seq, seq.sampler.sample(row), outbox)
            stats.tokens_generated += 1
        now = time.monotonic()
        for req, events in outbox.items():
            req.deliver(events, now, self.stream_interval)

    def _advance(self, seq: Seq, draw: Draw, outbox: dict[EngineRequest, list[Event]]) -> None:
        events = outbox.setdefault(seq.req, [])
        token = draw.token
        seq.sampler.accept(token)
        seq.n_generated += 1
        seq.req.completion_tokens += 1
        if token in self.eog and (not seq.req.params.ignore_eos or seq.sampler.finished()):
            self.finish(seq, "stop", None, events)
            return
        seq.tokens.append(token)
        piece = self.model.piece(token)
        text, matched = seq.stops.push(seq.text.push(piece))
        logprobs = self._logprobs(draw, piece) if draw.logprob is not None else None
        events.append(TextDelta(seq.index, text, (token,), logprobs))
        if matched is not None:
            self.finish(seq, "stop", matched, events)
        elif seq.n_generated >= seq.req.max_tokens:
            self.finish(seq, "length", None, events)

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
            tail, _ = seq.stops.push(seq.text.flush())
            if stop is None:
                tail += seq.stops.flush()
            if tail:
                events.append(TextDelta(seq.index, tail))
            events.append(ChoiceFinished(seq.index, reason, stop))
        self.scheduler.retire(seq)
        req.open_choices -= 1
        if req.open_choices == 0 and not req.done:
            req.done = True
            if reason != "cancelled":
                events.append(Done(Usage(len(req.prompt), req.completion_tokens,
                                         req.cached_tokens),
                                   engine_seconds=time.monotonic() - req.submitted_at))
