"""Admission: who waits, who runs, which llama sequence ids they hold, and prefix reuse."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import numpy as np

from openmini.engine.images import kv_position, spans_of, verified_prefix, whole_images
from openmini.engine.prefix_cache import PrefixCache, common_prefix
from openmini.engine.sequence import EngineRequest, Seq

SeqFactory = Callable[[EngineRequest, int, int], Seq]
SHARED_PREFILL_MIN = 64  # prompt tokens in common worth waiting a step or two for


class SlotPool:
    """llama sequence ids: held by running sequences or by prefix-cache entries."""

    def __init__(self, n_ids: int, cache: PrefixCache, free_kv: Callable[[int], object]):
        self._free = list(range(n_ids - 1, -1, -1))
        self.cache = cache
        self._free_kv = free_kv

    def take(self) -> int:
        if not self._free:
            victim = self.cache.evict_lru()
            if victim is None:
                raise RuntimeError("no llama sequence id left")
            self.release(victim)
        return self._free.pop()

    def release(self, seq_id: int) -> None:
        self._free_kv(seq_id)
        self._free.append(seq_id)

    def available(self) -> int:
        return len(self._free) + len(self.cache.entries)


def live_first(seqs: list[Seq]) -> list[Seq]:
    """Prefilling sequences in the order their prompt chunks go into a step: while a live
    request prefills, batch lines' prompts wait (its first token comes as soon as alone)."""
    live = [s for s in seqs if not s.req.background]
    return live or seqs


class Scheduler:
    def __init__(self, parallel: int, pool: SlotPool, copy_kv: Callable[[int, int, int], None],
                 trim_kv: Callable[[int, int], object] | None = None, live_slots: int = 0):
        self.parallel = parallel
        self.live_slots = live_slots  # slots background requests (batch lines) never take
        self.pool = pool
        self.copy_kv = copy_kv  # (src, dst, pos): the cells before position pos
        self.trim_kv = trim_kv  # (seq_id, pos): drop cells from position pos on; None: never
        self.waiting: list[EngineRequest] = []
        self.running: list[Seq] = []

    def enqueue(self, req: EngineRequest) -> None:
        heapq.heappush(self.waiting, req)

    def expired(self, now: float | None = None) -> list[EngineRequest]:
        """Waiting requests whose admission deadline has passed (removed from the queue)."""
        now = time.monotonic() if now is None else now
        late = [r for r in self.waiting if r.deadline is not None and r.deadline < now]
        if late:
            self.waiting = [r for r in self.waiting if r not in late]
            heapq.heapify(self.waiting)
        return late

    def drop_cancelled(self) -> list[EngineRequest]:
        gone = [r for r in self.waiting if r.cancelled]
        if gone:
            self.waiting = [r for r in self.waiting if not r.cancelled]
            heapq.heapify(self.waiting)
        return gone

    def admit(self, make_seq: SeqFactory) -> list[EngineRequest]:
        """Move waiting requests into running sequences while slots allow, best first."""
        admitted = []
        while (self.waiting and self._fits(self.waiting[0])
               and not self._shares_a_prefill(self.waiting[0])):
            req = heapq.heappop(self.waiting)
            parent = make_seq(req, 0, self.pool.take())
            self._reuse_prefix(parent)
            self.running.append(parent)
            for index in range(1, req.n):
                child = make_seq(req, index, self.pool.take())
                child.waiting_fork = True
                parent.children.append(child)
                self.running.append(child)
            req.open_choices = req.n
            admitted.append(req)
        return admitted

    def _fits(self, req: EngineRequest) -> bool:
        """Slots for `req` now: a batch line (background) only where `live_slots` stay free
        after it, so a live request that comes next starts at once. The queue puts every
        live request before any batch line: a batch line at its head means none waits."""
        free = self.parallel - len(self.running) - req.n
        return free >= (self.live_slots if req.background else 0)

    def _shares_a_prefill(self, req: EngineRequest) -> bool:
        """A batch line whose prompt begins like one still being prefilled waits for that
        prefill to pass the shared part, then copies it instead of computing it again (batch
        lines sharing a system prompt start together as slots free up). Live requests never
        wait: their first token matters more than the compute."""
        if not req.background or req.images:
            return False
        prompt = np.asarray(req.prompt, dtype=np.int32)
        for other in self.running:
            if other.waiting_fork or not other.prefilling or other.req.images:
                continue
            shared = common_prefix(np.asarray(other.req.prompt, dtype=np.int32), prompt)
            if shared >= SHARED_PREFILL_MIN and other.n_past < shared:
                return True
        return False

    def _reuse_prefix(self, seq: Seq) -> None:
        prompt = np.asarray(seq.req.prompt, dtype=np.int32)
        images = seq.req.images
        src, n = self.pool.cache.lookup(prompt, images, seq.req.background)
        entry = src
        for other in self.running:  # a running sequence's computed cells are shareable too
            if other.waiting_fork or other.n_past <= n:
                continue
            m = common_prefix(np.asarray(other.tokens[: other.n_past], dtype=np.int32), prompt)
            if images and m > n:
                m = verified_prefix(m, images, spans_of(other.req.images, m))
            if m > n:
                src, n = other.seq_id, m
        n = min(n, len(seq.req.prompt) - 1)  # the last prompt token is recomputed for logits
        n = whole_images(n, images)
        if src is not None and n > 0:
            pos = kv_position(images, n)  # llama's memory copies and trims by position
            if src == entry and self._adoptable(src, n, len(seq.req.prompt)):
                self._adopt(seq, src, pos)
            else:
                self.copy_kv(src, seq.seq_id, pos)
            seq.n_past = n
        seq.req.cached_tokens = max(n, 0)
        self.pool.cache.record(len(seq.req.prompt), max(n, 0))

    def _adoptable(self, entry_id: int, n: int, prompt_len: int) -> bool:
        """Take a cache entry over instead of sharing it when that loses nothing worth
        keeping: the prompt extends the whole entry (the next turn of its conversation), or
        the entry covers the whole prompt (the same prompt again: its old continuation goes).
        Every cell an entry keeps beyond what runs widens each decode step's KV scan."""
        if self.trim_kv is None:
            return False
        return n == self.pool.cache.entries[entry_id].tokens.shape[0] or n == prompt_len - 1

    def _adopt(self, seq: Seq, entry_id: int, pos: int) -> None:
        self.pool.cache.entries.pop(entry_id)
        self.pool.release(seq.seq_id)
        seq.seq_id = entry_id
        assert self.trim_kv is not None
        self.trim_kv(entry_id, pos)

    def retire(self, seq: Seq, keep: bool = True) -> None:
        """A sequence left the batch: keep its computed cells as a cache entry, or free them."""
        self.running.remove(seq)
        if not keep or seq.waiting_fork:
            self.pool.release(seq.seq_id)
            return
        cells = np.asarray(seq.tokens[: seq.n_past], dtype=np.int32)
        spans = spans_of(seq.req.images, seq.n_past) if seq.req.images else ()
        for seq_id in self.pool.cache.add(seq.seq_id, cells, spans, seq.req.background):
            self.pool.release(seq_id)
