"""The batch runner's ends: cancel, expiry, and resume after the runner was stopped mid-batch
(a real Store and FileStore, a scripted executor in place of the server)."""


from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from batch.runner_world import (
    WAIT_S,
    Script,
    World,
    chat,
    ids,
    until,
)
from openmini.batch import runner as runner_module
from openmini.batch.store import Store

# --- cancel ----------------------------------------------------------------------------------


async def test_cancel_while_running(world: World) -> None:
    script = Script(gate=asyncio.Event())
    batch_id = world.submit([chat(f"l{k}") for k in range(6)])
    runner = world.runner(script, concurrency=2)
    world.start(runner)
    await until(lambda: len(script.calls) == 2, "two lines running")
    cancelling = world.batches.cancel(batch_id)
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] is not None
    runner.wake()
    await asyncio.sleep(0.3)  # many passes of the runner: nothing new starts, nothing ends
    assert len(script.calls) == 2
    assert world.batches.get(batch_id)["status"] == "cancelling"
    assert world.batches.cancel(batch_id)["status"] == "cancelling"  # again: unchanged
    script.gate.set()  # type: ignore[union-attr]
    batch = await world.done(batch_id)
    assert batch["status"] == "cancelled"
    assert script.cancelled == [] and len(script.finished) == 2  # the running ones finished
    assert batch["cancelled_at"] is not None and batch["completed_at"] is None
    assert batch["cancelling_at"] <= batch["finalizing_at"] <= batch["cancelled_at"]
    assert batch["request_counts"] == {"total": 6, "completed": 2, "failed": 4}
    output = world.read(batch["output_file_id"])
    errors = world.read(batch["error_file_id"])
    assert sorted(ids(output)) == sorted(script.contents())
    assert sorted(ids(output) + ids(errors)) == [f"l{k}" for k in range(6)]
    for line in errors:
        assert line["response"] is None
        assert line["error"]["code"] == "batch_cancelled" and line["error"]["message"]
    assert world.batches.cancel(batch_id)["status"] == "cancelled"  # again: unchanged


async def test_a_cancelled_batch_does_not_wait_past_its_window(world: World) -> None:
    script = Script(gate=asyncio.Event())  # its lines never answer
    batch_id = world.submit([chat(f"l{k}") for k in range(3)], window="2s")
    runner = world.runner(script, concurrency=2)
    world.start(runner)
    await until(lambda: len(script.calls) == 2, "two lines running")
    world.batches.cancel(batch_id)
    runner.wake()
    batch = await world.done(batch_id)
    assert batch["status"] == "cancelled" and batch["expired_at"] is None
    assert sorted(script.cancelled) == ["l0", "l1"]
    assert batch["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
    assert batch["output_file_id"] is None
    errors = world.read(batch["error_file_id"])
    assert ids(errors) == ["l0", "l1", "l2"]
    assert {line["error"]["code"] for line in errors} == {"batch_cancelled"}


async def test_cancel_before_validation(world: World) -> None:
    script = Script()
    batch_id = world.submit([chat("a"), chat("b")])
    assert world.batches.cancel(batch_id)["status"] == "cancelling"
    world.start(world.runner(script))
    batch = await world.done(batch_id)
    assert batch["status"] == "cancelled" and script.calls == []
    assert batch["in_progress_at"] is None
    assert batch["output_file_id"] is None and batch["error_file_id"] is None


async def test_cancel_while_validating(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    checking, release = threading.Event(), threading.Event()
    real = runner_module.check_file

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        checking.set()
        assert release.wait(WAIT_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "check_file", slow_check)
    script = Script()
    batch_id = world.submit([chat("a"), chat("b")])
    world.start(world.runner(script))
    await until(checking.is_set, "validation to start")
    assert world.batches.get(batch_id)["status"] == "validating"
    assert world.batches.cancel(batch_id)["status"] == "cancelling"
    release.set()
    batch = await world.done(batch_id)
    assert batch["status"] == "cancelled" and script.calls == []
    assert batch["in_progress_at"] is None


async def test_cancelling_a_finished_batch_is_a_conflict(world: World) -> None:
    batch_id = world.submit([chat("a")])
    world.start(world.runner(Script()))
    assert (await world.done(batch_id))["status"] == "completed"
    with pytest.raises(Exception) as refused:
        world.batches.cancel(batch_id)
    assert getattr(refused.value, "status", None) == 409


# --- expiry ----------------------------------------------------------------------------------


async def test_a_batch_past_its_window_expires(world: World) -> None:
    stuck = {"stuck1", "stuck2", "stuck3"}
    script = Script(gate=asyncio.Event(), hold=stuck)  # the stuck ones never answer
    lines = [chat("fast1", "a fast 1"), chat("fast2", "a fast 2"),
             chat("stuck1", "stuck1"), chat("stuck2", "stuck2"), chat("stuck3", "stuck3")]
    batch_id = world.submit(lines, window="2s")
    world.start(world.runner(script, concurrency=2))
    batch = await world.done(batch_id)
    assert batch["status"] == "expired"
    assert batch["expired_at"] is not None and batch["expired_at"] >= batch["expires_at"]
    assert batch["finalizing_at"] is not None and batch["completed_at"] is None
    assert sorted(script.cancelled) == ["stuck1", "stuck2"]  # in flight: cancelled
    assert "stuck3" not in script.contents()  # never started
    assert batch["request_counts"] == {"total": 5, "completed": 2, "failed": 3}
    assert ids(world.read(batch["output_file_id"])) == ["fast1", "fast2"]
    errors = world.read(batch["error_file_id"])
    assert ids(errors) == ["stuck1", "stuck2", "stuck3"]
    for line in errors:
        assert line["response"] is None and line["error"]["code"] == "batch_expired"


# --- resume ----------------------------------------------------------------------------------


async def test_a_new_runner_finishes_what_a_stopped_one_left(world: World) -> None:
    n = 12
    first = Script(gate=asyncio.Event(), hold={f"l{k}" for k in range(5, n)}, cleanup_s=0.1)
    lines = [chat(f"l{k}") for k in range(n)]
    lines += [chat("d1", "dup", temperature=0), chat("d2", "dup", temperature=0)]
    batch_id = world.submit(lines)
    task = world.start(world.runner(first, concurrency=3))
    await until(lambda: len(first.finished) >= 5 and first.running == 3, "a batch half done")
    task.cancel()  # the process stops: in-flight lines are not recorded
    await asyncio.gather(task, return_exceptions=True)
    assert first.running == 0 and len(first.cancelled) == 3  # ended with the runner
    middle = world.batches.get(batch_id)
    assert middle["status"] == "in_progress"
    answered = len(first.finished) + first.finished.count("dup")  # "dup" answers two lines
    assert middle["request_counts"]["completed"] == answered
    done_before = set(first.finished)

    second = Script()
    reopened = Store(world.store.path)  # as a restarted server would
    world.start(world.runner(second, concurrency=3, store=reopened))
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    assert not done_before & set(second.contents())  # nothing committed ran again
    assert set(second.contents()) | done_before == {f"l{k}" for k in range(n)} | {"dup"}
    assert batch["request_counts"] == {"total": n + 2, "completed": n + 2, "failed": 0}
    output, errors = world.read(batch["output_file_id"]), world.read(batch["error_file_id"])
    every = ids(output) + ids(errors)
    assert len(every) == len(set(every)) == n + 2  # each line exactly once
    assert batch["deduplication"]["lines"] == 1
    reopened.close()


async def test_the_runner_stops_when_cancelled_as_it_is_woken(world: World) -> None:
    """A server's shutdown cancels the runner while lines land and wake it: the cancel must
    not be lost (asyncio.wait_for on Python 3.11 returned the wake-up instead)."""
    runner = world.runner(Script())
    runner.poll_s = 30.0
    task = world.start(runner)
    await asyncio.sleep(0.05)  # idle: waiting to be woken
    runner.wake()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()


async def test_a_batch_stopped_while_finalizing_is_finished_on_restart(world: World) -> None:
    batch_id = world.submit([chat("a"), chat("b")])
    script = Script()
    runner = world.runner(script)
    await runner.step()  # validate
    for _ in range(100):
        await runner.step()
        await asyncio.sleep(0.01)
        if world.batches.get(batch_id)["request_counts"]["completed"] == 2:
            break
    with world.store.transaction() as tx:  # as if the process died after this transition
        tx.execute("UPDATE batches SET status = 'finalizing', finalizing_at = 1, "
                   "outcome = 'completed' WHERE id = ?", (batch_id,))
    world.start(world.runner(Script()))
    batch = await world.done(batch_id)
    assert batch["status"] == "completed" and ids(world.read(batch["output_file_id"])) == \
        ["a", "b"]
    assert len(script.calls) == 2

