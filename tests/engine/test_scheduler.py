"""Scheduler and SlotPool with a fake sequence factory and recording copy_kv / free_kv."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import numpy as np
import pytest

from openmini.engine.prefix_cache import PrefixCache
from openmini.engine.sampling import Sampler
from openmini.engine.scheduler import Scheduler, SlotPool
from openmini.engine.sequence import EngineRequest, Seq
from openmini.types import Event, SamplingParams

VOCAB = 32
_ids = itertools.count()


def request(prompt: list[int], **kw: object) -> EngineRequest:
    events: list[Event] = []
    return EngineRequest(request_id=f"r{next(_ids)}", prompt=prompt, params=SamplingParams(),
                         max_tokens=8, sink=events.extend, **kw)


class Harness:
    def __init__(self, parallel: int = 4, n_ids: int = 8, budget: int = 1000,
                 entries: int = 4):
        self.copies: list[tuple[int, int, int]] = []
        self.freed: list[int] = []
        self.made: list[tuple[EngineRequest, int, int]] = []
        self.cache = PrefixCache(budget, entries)
        self.pool = SlotPool(n_ids, self.cache, self.freed.append)
        self.sched = Scheduler(parallel, self.pool, lambda s, d, n: self.copies.append((s, d, n)))

    def make_seq(self, req: EngineRequest, index: int, seq_id: int) -> Seq:
        self.made.append((req, index, seq_id))
        sampler = Sampler(req.params, VOCAB, req.prompt, seed=index)
        return Seq(req=req, index=index, seq_id=seq_id, tokens=list(req.prompt), sampler=sampler)

    def admit(self, *reqs: EngineRequest) -> list[EngineRequest]:
        for req in reqs:
            self.sched.enqueue(req)
        return self.sched.admit(self.make_seq)

    def cached(self, tokens: list[int]) -> int:
        """A cache entry holding an id from the pool, as a retired sequence leaves it."""
        seq_id = self.pool.take()
        assert self.cache.add(seq_id, np.asarray(tokens, dtype=np.int32)) == []
        return seq_id

    def seq_of(self, req: EngineRequest, index: int = 0) -> Seq:
        return next(s for s in self.sched.running if s.req is req and s.index == index)


def computed(seq: Seq, generated: Sequence[int] = ()) -> Seq:
    """Pretend the model has computed the prompt (and these generated tokens)."""
    seq.tokens.extend(generated)
    seq.n_past = len(seq.tokens)
    return seq


# --- admission ---------------------------------------------------------------------------------


def test_admission_respects_parallel() -> None:
    h = Harness(parallel=2)
    a, b, c = request([1]), request([2]), request([3])
    assert h.admit(a, b, c) == [a, b]
    assert [s.req for s in h.sched.running] == [a, b]
    assert h.sched.waiting == [c]
    assert h.sched.admit(h.make_seq) == []
    h.sched.retire(h.seq_of(a), keep=False)
    assert h.sched.admit(h.make_seq) == [c]
    assert h.sched.admit(h.make_seq) == []


def test_request_with_n_makes_a_parent_and_waiting_children() -> None:
    h = Harness(parallel=3)  # n == parallel fits exactly
    req = request([1, 2, 3], n=3)
    assert h.admit(req) == [req]
    parent, *children = h.sched.running
    assert [s.index for s in h.sched.running] == [0, 1, 2]
    assert not parent.waiting_fork and all(c.waiting_fork for c in children)
    assert parent.children == children
    assert len({s.seq_id for s in h.sched.running}) == 3
    assert req.open_choices == 3
    assert [(r, i) for r, i, _ in h.made] == [(req, 0), (req, 1), (req, 2)]


def test_n_counts_against_parallel() -> None:
    h = Harness(parallel=4)
    first, second = request([1], n=3), request([2], n=3)
    assert h.admit(first, second) == [first]  # 3 + 3 > 4
    assert h.sched.waiting == [second]
    h.sched.retire(h.seq_of(first, 2), keep=False)
    assert h.sched.admit(h.make_seq) == []  # 2 + 3 > 4 still
    h.sched.retire(h.seq_of(first, 1), keep=False)
    assert h.sched.admit(h.make_seq) == [second]
    assert len(h.sched.running) == 4


def test_priority_lower_first() -> None:
    h = Harness(parallel=8)
    reqs = [request([i], priority=p) for i, p in enumerate([5, 0, 1, -2, 0])]
    assert h.admit(*reqs) == [reqs[3], reqs[1], reqs[4], reqs[2], reqs[0]]


def test_deadline_breaks_priority_ties_none_last() -> None:
    h = Harness(parallel=8)
    none, late, early = request([1]), request([2], deadline=10.0), request([3], deadline=5.0)
    urgent_low_priority = request([4], priority=1, deadline=1.0)
    assert h.admit(urgent_low_priority, none, late, early) == [early, late, none,
                                                               urgent_low_priority]


def test_arrival_breaks_remaining_ties() -> None:
    h = Harness(parallel=8)
    a, b, c = request([1], deadline=3.0), request([2], deadline=3.0), request([3], deadline=3.0)
    assert h.admit(c, a, b) == [a, b, c]


def test_expired_removes_late_requests() -> None:
    h = Harness(parallel=8)
    reqs = [request([i], deadline=d) for i, d in enumerate([1.0, 5.0, None, 3.0, 4.0])]
    for r in reqs:
        h.sched.enqueue(r)
    late = h.sched.expired(now=4.0)  # a deadline equal to now is not late yet
    assert {id(r) for r in late} == {id(reqs[0]), id(reqs[3])}
    assert h.sched.expired(now=4.0) == []
    assert h.sched.admit(h.make_seq) == [reqs[4], reqs[1], reqs[2]]


def test_expired_defaults_to_the_monotonic_clock() -> None:
    h = Harness()
    gone, kept = request([1], deadline=time.monotonic() - 1.0), request([2], deadline=1e12)
    h.sched.enqueue(gone)
    h.sched.enqueue(kept)
    assert h.sched.expired() == [gone]
    assert h.sched.waiting == [kept]


def test_drop_cancelled() -> None:
    h = Harness(parallel=8)
    a, b, c = request([1], priority=2), request([2], priority=1), request([3], priority=0)
    for r in (a, b, c):
        h.sched.enqueue(r)
    c.cancelled = True
    assert h.sched.drop_cancelled() == [c]
    assert h.sched.drop_cancelled() == []
    assert h.sched.admit(h.make_seq) == [b, a]


# --- prefix reuse ------------------------------------------------------------------------------


def test_reuse_from_a_cache_entry() -> None:
    h = Harness()
    a = request(list(range(1, 11)))
    h.admit(a)
    seq_a = computed(h.seq_of(a), [50, 51])
    h.sched.retire(seq_a)
    assert h.freed == [] and h.cache.entries[seq_a.seq_id].tokens.shape[0] == 12
    b = request([1, 2, 3, 4, 5, 6, 99, 98])
    h.admit(b)
    seq_b = h.seq_of(b)
    assert h.copies == [(seq_a.seq_id, seq_b.seq_id, 6)]
    assert seq_b.n_past == 6 and b.cached_tokens == 6
    assert (h.cache.lookup_tokens, h.cache.hits_tokens) == (10 + 8, 6)


@pytest.mark.parametrize("prompt", [list(range(1, 11)), [1, 2, 3, 4, 5], [*range(1, 11), 50, 51]])
def test_reuse_never_covers_the_whole_prompt(prompt: list[int]) -> None:
    h = Harness()
    a = request(list(range(1, 11)))
    h.admit(a)
    seq_a = computed(h.seq_of(a), [50, 51])
    h.sched.retire(seq_a)
    b = request(prompt)
    h.admit(b)
    seq_b = h.seq_of(b)
    assert h.copies == [(seq_a.seq_id, seq_b.seq_id, len(prompt) - 1)]
    assert seq_b.n_past == len(prompt) - 1 == b.cached_tokens
    assert seq_b.pending() == prompt[-1:]


@pytest.mark.parametrize("prompt", [[5], [1, 2, 3]])
def test_one_token_prompt_or_no_match_copies_nothing(prompt: list[int]) -> None:
    h = Harness()
    h.cached([5, 6, 7])
    b = request(prompt)
    h.admit(b)
    assert h.copies == [] and h.seq_of(b).n_past == 0 and b.cached_tokens == 0
    assert (h.cache.lookup_tokens, h.cache.hits_tokens) == (len(prompt), 0)


def test_reuse_from_a_running_sequences_computed_tokens() -> None:
    h = Harness()
    a = request([1, 2, 3])
    h.admit(a)
    seq_a = computed(h.seq_of(a), [4, 5])
    seq_a.tokens.append(6)  # sampled, not yet computed: never shared
    b = request([1, 2, 3, 4, 5, 6, 7])
    h.admit(b)
    assert h.copies == [(seq_a.seq_id, h.seq_of(b).seq_id, 5)]
    assert b.cached_tokens == 5


def test_partly_prefilled_running_sequence_shares_only_what_is_computed() -> None:
    h = Harness()
    a = request(list(range(20)))
    h.admit(a)
    h.seq_of(a).n_past = 8  # a prompt chunk of 8 is done
    b = request(list(range(20)))
    h.admit(b)
    assert h.copies == [(h.seq_of(a).seq_id, h.seq_of(b).seq_id, 8)]


def test_longer_source_wins_between_cache_and_running() -> None:
    h = Harness()
    src = h.cached([1, 2, 3, 4])
    a = request([1, 2, 3, 4, 5, 6])
    h.admit(a)  # copies 4 from the cache entry
    computed(h.seq_of(a))
    b = request([1, 2, 3, 4, 5, 6, 7])
    h.admit(b)  # the running sequence holds 6: it wins
    c = request([1, 2, 3, 4, 9])
    h.admit(c)  # both hold 4: the cache entry is kept
    ids = [h.seq_of(r).seq_id for r in (a, b, c)]
    assert h.copies == [(src, ids[0], 4), (ids[0], ids[1], 6), (src, ids[2], 4)]


def test_waiting_fork_is_never_a_source() -> None:
    h = Harness()
    a = request([1, 2, 3, 4], n=2)
    h.admit(a)
    child = h.seq_of(a, 1)
    child.n_past = 4  # its cells are not there until the parent forks
    b = request([1, 2, 3, 4, 5])
    h.admit(b)
    assert h.copies == [] and b.cached_tokens == 0


# --- retire ------------------------------------------------------------------------------------


def test_retire_keeps_computed_tokens_as_a_cache_entry() -> None:
    h = Harness()
    a = request([1, 2, 3])
    h.admit(a)
    seq = computed(h.seq_of(a), [4])
    seq.tokens.append(5)  # the last sampled token was never fed
    h.sched.retire(seq)
    assert h.sched.running == [] and h.freed == []
    assert h.cache.entries[seq.seq_id].tokens.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("how", ["keep=False", "waiting_fork", "nothing computed"])
def test_retire_frees_instead_of_caching(how: str) -> None:
    h = Harness()
    a = request([1, 2, 3], n=2)
    h.admit(a)
    seq = h.seq_of(a, 1) if how == "waiting_fork" else h.seq_of(a, 0)
    if how != "nothing computed":
        computed(seq)
    h.sched.retire(seq, keep=how != "keep=False")
    assert h.freed == [seq.seq_id] and not h.cache.entries
    assert seq not in h.sched.running


def test_retire_frees_its_id_when_the_cache_refuses() -> None:
    h = Harness()
    entry = h.cached([1, 2, 3, 4, 5])
    a = request([1, 2, 3])
    h.admit(a)
    seq = computed(h.seq_of(a))
    h.sched.retire(seq)
    assert h.freed == [seq.seq_id] and set(h.cache.entries) == {entry}


def test_retire_frees_evicted_entries() -> None:
    h = Harness(entries=1)
    a, b = request([1, 2]), request([3, 4])
    h.admit(a, b)
    seq_a, seq_b = computed(h.seq_of(a)), computed(h.seq_of(b))
    h.sched.retire(seq_a)
    h.sched.retire(seq_b)
    assert h.freed == [seq_a.seq_id] and set(h.cache.entries) == {seq_b.seq_id}


# --- SlotPool ----------------------------------------------------------------------------------


def test_slot_pool_take_release_and_evict_when_ids_run_out() -> None:
    freed: list[int] = []
    cache = PrefixCache(1000, 8)
    pool = SlotPool(3, cache, freed.append)
    assert [pool.take(), pool.take(), pool.take()] == [0, 1, 2]
    assert pool.available() == 0
    for seq_id, first in ((0, 10), (2, 20)):
        assert cache.add(seq_id, np.asarray([first], dtype=np.int32)) == []
    cache.lookup(np.asarray([10], dtype=np.int32))  # entry 0 used last: 2 is the LRU
    assert pool.available() == 2
    assert pool.take() == 2 and freed == [2] and set(cache.entries) == {0}
    pool.release(1)
    assert freed == [2, 1] and pool.take() == 1
    assert pool.take() == 0 and freed == [2, 1, 0] and not cache.entries
    with pytest.raises(RuntimeError):
        pool.take()


def test_admission_takes_ids_from_the_cache_when_none_are_free() -> None:
    h = Harness(parallel=2, n_ids=2)
    a = request([1, 2])
    h.admit(a)
    h.sched.retire(computed(h.seq_of(a)))  # id 0 now held by the cache
    b, c = request([7]), request([8])
    assert h.admit(b, c) == [b, c]
    assert h.freed == [0] and not h.cache.entries
    assert sorted(s.seq_id for s in h.sched.running) == [0, 1]


# --- adopting a cache entry --------------------------------------------------------------------


class AdoptingHarness(Harness):
    def __init__(self, **kw: int) -> None:
        super().__init__(**kw)
        self.trims: list[tuple[int, int]] = []
        self.sched.trim_kv = lambda seq_id, keep: self.trims.append((seq_id, keep))


def test_same_prompt_again_takes_the_entry_over_and_trims_its_old_answer() -> None:
    h = AdoptingHarness()
    src = h.cached([1, 2, 3, 4, 5, 60, 61, 62])  # prompt 1..5 and its old answer
    b = request([1, 2, 3, 4, 5])
    h.admit(b)
    seq_b = h.seq_of(b)
    assert seq_b.seq_id == src and h.copies == [] and h.trims == [(src, 4)]
    assert seq_b.n_past == 4 and b.cached_tokens == 4
    assert src not in h.cache.entries  # the running sequence owns it now


def test_next_turn_takes_the_whole_entry_over() -> None:
    h = AdoptingHarness()
    src = h.cached([1, 2, 3, 4])  # a finished turn
    b = request([1, 2, 3, 4, 7, 8, 9])  # the conversation goes on
    h.admit(b)
    assert h.seq_of(b).seq_id == src and h.trims == [(src, 4)] and h.copies == []


def test_a_shared_prefix_is_copied_so_the_entry_stays() -> None:
    h = AdoptingHarness()
    src = h.cached([1, 2, 3, 4, 50, 51])  # system prompt + another user's turn
    b = request([1, 2, 3, 4, 70, 71])
    h.admit(b)
    assert h.copies == [(src, h.seq_of(b).seq_id, 4)] and h.trims == []
    assert src in h.cache.entries


def test_a_running_source_is_never_adopted() -> None:
    h = AdoptingHarness()
    a = request([1, 2, 3])
    h.admit(a)
    computed(h.seq_of(a))
    b = request([1, 2, 3])
    h.admit(b)
    assert h.copies == [(h.seq_of(a).seq_id, h.seq_of(b).seq_id, 2)] and h.trims == []


def test_adopted_id_returns_to_the_cache_when_the_sequence_retires() -> None:
    h = AdoptingHarness()
    src = h.cached([1, 2, 3, 4, 9])
    b = request([1, 2, 3, 4])
    h.admit(b)
    seq_b = computed(h.seq_of(b), [5, 6])
    h.sched.retire(seq_b)
    assert h.cache.entries[src].tokens.tolist() == [1, 2, 3, 4, 5, 6]
    assert h.pool.available() == 8  # no id lost: 7 free + this entry
