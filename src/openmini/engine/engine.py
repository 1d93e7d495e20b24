"""The engine: one thread owns the llama context and runs the continuous-batching step loop.

step(): admit waiting requests -> one batch holding one token per decoding sequence plus prompt
chunks -> one llama_decode -> sample every sequence that has logits -> emit events. A step
that prefills image rows decodes them first, as a batch of embeddings (engine/images.py).
The async edge talks to it through a command queue and per-request sinks.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import llama_cpp as ll

from openmini.decoding.bad_words import PhraseGuard
from openmini.engine.backtrack import MAX_BACKTRACKS
from openmini.engine.batch import Batch
from openmini.engine.detok import StopMatcher
from openmini.engine.emit import Emitter
from openmini.engine.images import EmbdBatch, check_spans, fill_prefill
from openmini.engine.model import LlamaModel
from openmini.engine.prefix_cache import PrefixCache
from openmini.engine.sampling import Sampler
from openmini.engine.scheduler import Scheduler, SlotPool, live_first
from openmini.engine.sequence import EngineRequest, Seq
from openmini.errors import DeadlineExceeded, EngineError, Overloaded
from openmini.hooks.chain import HookChain
from openmini.types import Done, Event, Failed

log = logging.getLogger("openmini.engine")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    parallel: int = 8
    live_slots: int = 0  # of parallel, never taken by batch lines (background requests)
    batch_size: int = 512
    prefill_chunk_when_busy: int = 256  # prompt tokens per step while other streams decode
    # batch lines' prompt tokens per step while live traffic is about (a live sequence ran
    # in the last live_recent_s): short steps, so a live request waits little for the step
    # in flight to end (docs/batch.md)
    batch_prefill_when_live: int = 2
    live_recent_s: float = 5.0
    max_queue: int = 64
    prefix_cache_tokens: int = 8192
    prefix_cache_entries: int = 32
    stream_interval: float = 0.08  # seconds between event hand-overs per request (first: at once)
    max_backtracks: int = MAX_BACKTRACKS  # bad_words backtracks per sequence


@dataclass(slots=True)
class EngineStats:
    queue_depth: int = 0
    running: int = 0
    last_batch_tokens: int = 0
    last_batch_seqs: int = 0
    tokens_generated: int = 0  # every token sampled, backtracked ones included
    steps: int = 0
    backtracks: int = 0  # bad_words: rewinds to resample past a banned phrase
    tokens_backtracked: int = 0  # tokens generated and then dropped by those rewinds


class Engine:
    def __init__(self, model: LlamaModel, settings: EngineSettings):
        self.model = model
        self.settings = settings
        self.cache = PrefixCache(settings.prefix_cache_tokens, settings.prefix_cache_entries)
        pool = SlotPool(model.settings.n_seq_max, self.cache, lambda s: model.seq_rm(s))
        self.scheduler = Scheduler(settings.parallel, pool,
                                   lambda src, dst, n: model.seq_cp(src, dst, 0, n),
                                   lambda seq_id, keep: model.seq_rm(seq_id, keep, -1),
                                   settings.live_slots)
        self.emitter = Emitter(model, self.scheduler, settings.stream_interval,
                               settings.max_backtracks)
        self.batch = Batch(settings.batch_size)
        self.embd_batch: EmbdBatch | None = None  # made with the first image (engine thread)
        self.stats = EngineStats()
        self._commands: queue.SimpleQueue[EngineRequest | None] = queue.SimpleQueue()
        self._pending = 0
        self._live_seen = float("-inf")  # when a live sequence last ran (engine thread)
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="openmini-engine", daemon=True)
        self._stopping = False
        self._thread.start()

    # --- async edge ------------------------------------------------------------------------

    def submit(self, req: EngineRequest) -> None:
        with self._pending_lock:
            # requests not yet admitted, less the sequence slots free right now, wait
            free = max(0, self.settings.parallel - self.stats.running)
            if self._pending - free >= self.settings.max_queue:
                raise Overloaded(f"The server is at capacity ({self._pending - free} requests "
                                 "waiting). Retry shortly.", retry_after=1.0)
            self._pending += 1
        self._commands.put(req)

    def cancel(self, req: EngineRequest) -> None:
        req.cancelled = True
        self._commands.put(None)  # wake the loop

    async def generate(self, req_fields: dict[str, object]) -> AsyncIterator[Event]:
        """Submit a request and yield its events; closing the iterator cancels it."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        req = EngineRequest(sink=lambda evs: loop.call_soon_threadsafe(inbox.put_nowait, evs),
                            **req_fields)  # type: ignore[arg-type]
        self.submit(req)
        try:
            while True:
                for event in await inbox.get():
                    yield event
                    if isinstance(event, Done | Failed):
                        return
        finally:
            if not req.done:
                self.cancel(req)

    def close(self) -> None:
        self._stopping = True
        self._commands.put(None)
        self._thread.join(timeout=300)  # one step at most: a decode of one batch
        if self._thread.is_alive():  # never free memory a running decode still uses
            log.error("engine thread did not stop; leaving its memory allocated")
            return
        self.batch.close()
        if self.embd_batch is not None:
            self.embd_batch.close()

    def running_thread(self) -> bool:
        return self._thread.is_alive()

    # --- engine thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._step()
            except Exception as exc:  # never let the loop die: fail what is running
                log.exception("engine step failed")
                self._fail_running(EngineError(f"engine failure: {exc}"))

    def _drain(self, block: bool) -> None:
        try:
            item = self._commands.get(block=block)
            while True:
                if item is not None:
                    self.scheduler.enqueue(item)
                item = self._commands.get_nowait()
        except queue.Empty:
            pass

    def _step(self) -> None:
        sched = self.scheduler
        self._drain(block=not sched.running and not sched.waiting)
        self._reap()
        admitted = sched.admit(self._make_seq)
        self._unpend(len(admitted))
        self._fail_setup()
        self.stats.queue_depth, self.stats.running = len(sched.waiting), len(sched.running)
        if not sched.running:
            if sched.waiting:
                time.sleep(0.001)
            return
        self._fill_batch()
        self._decode()
        self.emitter.sample_all(self.stats)
        self.stats.steps += 1

    def _reap(self) -> None:
        sched = self.scheduler
        for req in sched.drop_cancelled():
            self._unpend(1)
            req.done = True
        for req in sched.expired():
            self._unpend(1)
            req.done = True
            req.sink([Failed(DeadlineExceeded("The request's deadline passed before it "
                                              "could start.", param="deadline"))])
        for seq in [s for s in sched.running if s.req.cancelled]:
            self.emitter.finish(seq, "cancelled", None, [])

    def _make_seq(self, req: EngineRequest, index: int, seq_id: int) -> Seq:
        seed = None if req.params.seed is None else req.params.seed + index
        try:
            procs = list(req.processors(index)) if req.processors else []
            thinking = req.thinking(index) if req.thinking else None
        except Exception as exc:  # the request fails (in _fail_setup), the engine goes on
            log.exception("setting up a sequence failed")
            req.failed = req.failed or EngineError(f"could not set up the request: {exc}")
            procs, thinking = [], None
        if thinking is not None:  # last: it may force the closing tag over everything else
            procs.append(thinking.budget)
        if req.images:
            self._check_images(req)
        sampler = Sampler(req.params, self.model.n_vocab, req.prompt, procs, seed)
        guard = PhraseGuard(req.params.bad_words) if req.params.bad_words else None
        hooks = HookChain(req.hooks, index) if req.hooks else None
        return Seq(req=req, index=index, seq_id=seq_id, tokens=list(req.prompt),
                   sampler=sampler, stops=StopMatcher(req.params.stop), guard=guard,
                   thinking=thinking, hooks=hooks)

    def _fill_batch(self) -> None:
        batch, sched = self.batch, self.scheduler
        batch.clear()
        decoding = [s for s in sched.running if not s.waiting_fork and not s.prefilling]
        prefilling = [s for s in sched.running if not s.waiting_fork and s.prefilling]
        if any(not s.req.background for s in prefilling):
            # a live prompt gets a step of its own: batch lines pause (KV kept) for it
            for seq in decoding:
                seq.batch_index = -1
            decoding = [s for s in decoding if not s.req.background]
        for seq in decoding:
            seq.batch_index = batch.add(seq.pending(), seq.n_past - seq.req.pos_shift,
                                        seq.seq_id, True)
        budget = batch.free
        if decoding:
            budget = min(budget, self.settings.prefill_chunk_when_busy)
        for seq in prefilling:
            seq.batch_index = -1
        background = self._batch_prefill_quota(sched.running)
        for seq in live_first(prefilling):
            if budget <= 0:
                continue
            if seq.req.images:
                budget = fill_prefill(seq, batch, self._embd_batch(), budget)
                continue
            limit = min(budget, background) if seq.req.background else budget
            if limit <= 0:
                continue
            chunk = seq.pending()[:limit]
            done = len(chunk) == len(seq.pending())
            idx = batch.add(chunk, seq.n_past, seq.seq_id, done)
            seq.batch_index = idx if done else -1
            seq.n_past += len(chunk)
            budget -= len(chunk)
            if seq.req.background:
                background -= len(chunk)
        for seq in decoding:
            seq.n_past += 1
        self.stats.last_batch_tokens = batch.n
        self.stats.last_batch_seqs = len(decoding) + len(prefilling)

    def _batch_prefill_quota(self, running: list[Seq]) -> int:
        """Batch lines' prompt tokens in this step: few while live traffic is about (a live
        sequence runs, or ran in the last `live_recent_s`), so the step in flight when the
        next live request arrives is short; any number otherwise."""
        now = time.monotonic()
        if any(not s.req.background for s in running):
            self._live_seen = now
        if now - self._live_seen < self.settings.live_recent_s:
            return self.settings.batch_prefill_when_live
        return self.batch.capacity

    def _decode(self) -> None:
        embd = self.embd_batch
        if embd is not None and embd.n:  # images first: the token batch's logits are read
            if embd.non_causal:  # whole images whose rows see each other (Gemma 3)
                ll.llama_set_causal_attn(self.model.ctx, False)
            try:
                self._decode_one(embd.submit())
            finally:
                embd.n = 0
                if embd.non_causal:
                    ll.llama_set_causal_attn(self.model.ctx, True)
        if self.batch.n:
            self._decode_one(self.batch.submit())

    def _decode_one(self, batch: ll.llama_batch) -> None:
        rc = ll.llama_decode(self.model.ctx, batch)
        while rc == 1 and self.cache.entries:  # no KV slot: give back cached prefixes
            victim = self.cache.evict_lru()
            if victim is not None:
                self.scheduler.pool.release(victim)
            rc = ll.llama_decode(self.model.ctx, batch)
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc}")

    def _embd_batch(self) -> EmbdBatch:
        if self.embd_batch is None:
            n_embd = int(ll.llama_model_n_embd_inp(self.model.model))
            self.embd_batch = EmbdBatch(self.settings.batch_size, n_embd, self.model.mrope)
        return self.embd_batch

    def _check_images(self, req: EngineRequest) -> None:
        try:
            check_spans(req.prompt, req.images)
            n_embd = int(ll.llama_model_n_embd_inp(self.model.model))
            if any(s.embedding.embd.shape[1] != n_embd for s in req.images):
                raise EngineError("an image's embeddings are not the model's width")
            if any(s.embedding.use_mrope != self.model.mrope for s in req.images):
                raise EngineError("an image's positions are not the model's (M-RoPE or not)")
            rows = min(self.settings.batch_size, self.model.settings.n_batch)
            if any(s.embedding.non_causal and s.embedding.n_tokens > rows for s in req.images):
                raise EngineError(f"a non-causal image has more rows than a decode holds ({rows}"
                                  "): raise the config key batch_size")
        except EngineError as exc:
            req.failed = req.failed or exc

    def _fail_setup(self) -> None:
        """Requests whose processors could not be built end with their error, unrun (they
        were taken from the queue, so nothing else would ever answer them)."""
        for seq in list(self.scheduler.running):
            error = seq.req.failed
            if error is None:
                continue
            if not seq.req.done:
                seq.req.done = True
                seq.req.sink([*seq.req.held, Failed(error)])
            self.scheduler.retire(seq, keep=False)

    def _fail_running(self, error: Exception) -> None:
        for seq in list(self.scheduler.running):
            if not seq.req.done:
                seq.req.done = True
                seq.req.sink([*seq.req.held, Failed(error)])
            self.scheduler.retire(seq, keep=False)

    def _unpend(self, k: int) -> None:
        if k:
            with self._pending_lock:
                self._pending -= k

