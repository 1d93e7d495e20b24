"""The batch lane: batch lines run after every live request and never take the live slots."""

from __future__ import annotations

from engine.test_scheduler import Harness, request
from openmini.engine.scheduler import Scheduler, live_first
from openmini.engine.sequence import queue_priority


def batch_line(prompt: list[int], batch_priority: int = 0, **kw: object):  # type: ignore[no-untyped-def]
    return request(prompt, priority=queue_priority(0, batch_priority), **kw)


def lanes(parallel: int, live_slots: int) -> Harness:
    h = Harness(parallel=parallel, n_ids=16)
    h.sched = Scheduler(parallel, h.pool, lambda s, d, n: h.copies.append((s, d, n)),
                        live_slots=live_slots)
    return h


def test_every_live_request_goes_before_any_batch_line() -> None:
    h = lanes(parallel=8, live_slots=0)
    line = batch_line([1], batch_priority=-1000)  # the most urgent batch
    late_live = request([2], priority=10**12)  # clamped into the live lane
    assert h.admit(line, late_live) == [late_live, line]


def test_batch_lines_leave_the_live_slots_free() -> None:
    h = lanes(parallel=4, live_slots=1)
    lines = [batch_line([i]) for i in range(6)]
    assert h.admit(*lines) == lines[:3]
    live = request([9])
    assert h.admit(live) == [live]  # at once: a slot was kept for it
    assert len(h.sched.running) == 4


def test_a_live_request_takes_a_slot_batch_lines_left() -> None:
    h = lanes(parallel=4, live_slots=1)
    live = [request([i]) for i in range(4)]
    assert h.admit(*live) == live  # live requests may use every slot
    line = batch_line([7])
    assert h.admit(line) == []
    h.sched.retire(h.seq_of(live[0]), keep=False)
    assert h.sched.admit(h.make_seq) == []  # 3 running: the free one is kept for live
    h.sched.retire(h.seq_of(live[1]), keep=False)
    assert h.sched.admit(h.make_seq) == [line]
    assert h.admit(request([8])) != []  # and the next live one still finds a slot


def test_batches_by_their_priority_within_the_lane() -> None:
    h = lanes(parallel=8, live_slots=0)
    low, high = batch_line([1], batch_priority=5), batch_line([2], batch_priority=-5)
    assert h.admit(low, high) == [high, low]


def test_a_live_prefill_goes_first_and_batch_prefills_wait_for_it() -> None:
    h = lanes(parallel=4, live_slots=1)
    line, live = batch_line([1, 2, 3]), request([4, 5, 6])
    h.admit(line, live)
    prefilling = list(h.sched.running)
    assert [s.req for s in live_first(prefilling)] == [live]
    only_batch = [s for s in prefilling if s.req is line]
    assert live_first(only_batch) == only_batch


def test_a_batch_line_waits_for_a_running_prefill_of_its_prefix_then_copies_it() -> None:
    h = lanes(parallel=4, live_slots=0)
    system = list(range(100, 200))  # 100 tokens in common
    first = batch_line([*system, 1, 2])
    assert h.admit(first) == [first]
    second = batch_line([*system, 3, 4])
    assert h.admit(second) == []  # the shared part is still being computed
    h.seq_of(first).n_past = 60
    assert h.sched.admit(h.make_seq) == []
    h.seq_of(first).n_past = 101  # past the shared part (still prefilling its own tail)
    assert h.sched.admit(h.make_seq) == [second]
    assert h.seq_of(second).n_past == 100  # copied, not computed
    assert second.cached_tokens == 100


def test_live_requests_and_short_shared_prefixes_never_wait() -> None:
    h = lanes(parallel=4, live_slots=0)
    system = list(range(100, 200))
    h.admit(batch_line([*system, 1]))
    live = request([*system, 2])
    assert h.admit(live) == [live]
    short = batch_line([*system[:10], 5, 6])  # 10 tokens in common: not worth a wait
    assert h.admit(short) == [short]


def test_batch_prefill_is_held_to_a_few_tokens_a_step_while_live_traffic_is_about() -> None:
    from types import SimpleNamespace

    from openmini.engine.engine import Engine, EngineSettings

    h = lanes(parallel=4, live_slots=0)
    h.admit(batch_line([1, 2, 3]))
    engine = SimpleNamespace(settings=EngineSettings(batch_prefill_when_live=2),
                             batch=SimpleNamespace(capacity=512), _live_seen=float("-inf"))
    quota = Engine._batch_prefill_quota
    assert quota(engine, h.sched.running) == 512  # no live traffic: as much as fits
    h.admit(request([4, 5]))
    assert quota(engine, h.sched.running) == 2  # a live request runs
    h.sched.retire(next(s for s in h.sched.running if not s.req.background), keep=False)
    assert quota(engine, h.sched.running) == 2  # it ran a moment ago: more may come
    engine._live_seen -= EngineSettings().live_recent_s
    assert quota(engine, h.sched.running) == 512
