"""The batch runner (batch/runner.py) over a real Store and FileStore, with a scripted executor
in place of the server: the state machine, counts and usage, dedup, retries, prefix order,
concurrency, priorities, cancel, expiry and resume after the runner was stopped mid-batch."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from openmini.batch import runner as runner_module
from openmini.batch.batches import TERMINAL, Batches
from openmini.batch.files import FileStore
from openmini.batch.runner import Runner
from openmini.batch.store import Store
from openmini.server.schemas import ChatCompletionRequest

CHAT = "/v1/chat/completions"
ENDPOINTS: dict[str, Any] = {CHAT: ChatCompletionRequest}
USAGE = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
         "prompt_tokens_details": {"cached_tokens": 4},
         "completion_tokens_details": {"reasoning_tokens": 1}}
WAIT_S = 30.0  # generous: a pass of the runner takes milliseconds


@dataclass
class Script:
    """The executor: answers a chat body with its last message's content echoed back, after
    `delay` seconds, or once `gate` is set; `status` by content (a code, or a list of codes
    taken one per call); every call recorded."""

    delay: float = 0.0
    gate: asyncio.Event | None = None
    hold: set[str] = field(default_factory=set)  # contents that wait for the gate
    cleanup_s: float = 0.0  # a cancelled call takes this long to end (a backend unwinding)
    status: dict[str, int | list[int]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # endpoint, content, prio
    finished: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    running: int = 0
    most: int = 0  # the most calls running at once

    async def __call__(self, endpoint: str, body: bytes, priority: int) -> tuple[int, bytes]:
        content = json.loads(body)["messages"][-1]["content"]
        self.calls.append((endpoint, content, priority))
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.gate is not None and (not self.hold or content in self.hold):
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            if self.cleanup_s:
                await asyncio.sleep(self.cleanup_s)
            self.cancelled.append(content)
            raise
        finally:
            self.running -= 1
        self.finished.append(content)
        status = self.status.get(content, 200)
        if isinstance(status, list):
            status = status.pop(0) if status else 200
        if status >= 400:
            error = {"error": {"message": f"refused {content}", "type": "invalid_request_error",
                               "param": None, "code": None}}
            return status, json.dumps(error).encode()
        answer = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                  "model": "fake", "usage": USAGE,
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": f"re: {content}"}}]}
        return status, json.dumps(answer).encode()

    def contents(self) -> list[str]:
        return [content for _, content, _ in self.calls]


@dataclass
class World:
    tmp: Path
    store: Store
    files: FileStore
    batches: Batches
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def runner(self, script: Script, concurrency: int = 4, max_lines: int = 1000,
               store: Store | None = None) -> Runner:
        store = store or self.store
        files = self.files if store is self.store else FileStore(store, self.tmp, 10**8, 30)
        return Runner(store, files, ENDPOINTS, script, lambda model: model == "fake",
                      concurrency, max_lines, poll_s=0.02)

    def start(self, runner: Runner) -> asyncio.Task[None]:
        task = asyncio.create_task(runner.run())
        self.tasks.append(task)
        return task

    def submit(self, lines: list[dict[str, Any]] | bytes, window: str = "24h",
               priority: int = 0, metadata: dict[str, str] | None = None) -> str:
        data = lines if isinstance(lines, bytes) else \
            b"".join(json.dumps(item).encode() + b"\n" for item in lines)
        record = self.files.save(io.BytesIO(data), "input.jsonl", "batch")
        return str(self.batches.create(CHAT, record.id, window, metadata, priority)["id"])

    async def until(self, batch_id: str, check: Callable[[dict[str, Any]], bool],
                    what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while True:
            batch = self.batches.get(batch_id)
            if check(batch):
                return batch
            assert time.monotonic() < deadline, f"waited for {what}; the batch: {batch}"
            await asyncio.sleep(0.01)

    async def done(self, batch_id: str) -> dict[str, Any]:
        return await self.until(batch_id, lambda b: b["status"] in TERMINAL, "the end")

    def read(self, file_id: str | None) -> list[dict[str, Any]]:
        if file_id is None:
            return []
        return [json.loads(x) for x in self.files.path(file_id).read_bytes().splitlines()]


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"waited for {what}"
        await asyncio.sleep(0.01)


@pytest_asyncio.fixture(loop_scope="function")
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(tmp_path / "openmini.sqlite3")
    w = World(tmp_path, store, FileStore(store, tmp_path, 10**8, 30), Batches(store))
    yield w
    for task in w.tasks:
        task.cancel()
    await asyncio.gather(*w.tasks, return_exceptions=True)
    store.close()


def chat(custom_id: str, content: str | None = None, system: str | None = None,
         **extra: Any) -> dict[str, Any]:
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": content or custom_id})
    return {"custom_id": custom_id, "method": "POST", "url": CHAT,
            "body": {"model": "fake", "messages": messages, **extra}}


def ids(lines: list[dict[str, Any]]) -> list[str]:
    return [line["custom_id"] for line in lines]


# --- the state machine -----------------------------------------------------------------------


async def test_a_batch_goes_through_every_state(world: World) -> None:
    script = Script(gate=asyncio.Event())
    batch_id = world.submit([chat(f"l{k}") for k in range(5)], metadata={"job": "x"})
    assert world.batches.get(batch_id)["status"] == "validating"
    world.start(world.runner(script, concurrency=2))
    running = await world.until(batch_id, lambda b: b["status"] == "in_progress",
                                "in_progress")
    assert running["in_progress_at"] is not None and running["finalizing_at"] is None
    assert running["expires_at"] == running["in_progress_at"] + 86_400
    assert running["request_counts"] == {"total": 5, "completed": 0, "failed": 0}
    assert running["model"] == "fake"
    script.gate.set()  # type: ignore[union-attr]
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    stamps = [batch[key] for key in ("created_at", "in_progress_at", "finalizing_at",
                                     "completed_at")]
    assert None not in stamps and stamps == sorted(stamps)
    for key in ("failed_at", "expired_at", "cancelling_at", "cancelled_at"):
        assert batch[key] is None, key
    assert batch["errors"] is None and batch["error_file_id"] is None
    assert batch["metadata"] == {"job": "x"}
    assert batch["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
    assert batch["usage"] == {
        "input_tokens": 50, "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 15, "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 65}
    assert batch["deduplication"] == {"lines": 0, "input_tokens": 0, "output_tokens": 0}
    output = world.read(batch["output_file_id"])
    assert ids(output) == [f"l{k}" for k in range(5)]  # input order
    for line in output:
        assert set(line) == {"id", "custom_id", "response", "error"}
        assert line["id"].startswith("batch_req_") and line["error"] is None
        response = line["response"]
        assert set(response) == {"status_code", "request_id", "body"}
        assert response["status_code"] == 200 and response["request_id"].startswith("req_")
        assert response["body"]["choices"][0]["message"]["content"] == \
            f"re: {line['custom_id']}"
    assert len({line["id"] for line in output}) == 5
    record = world.files.get(batch["output_file_id"])
    assert record.purpose == "batch_output" and record.filename == f"{batch_id}_output.jsonl"
    assert sorted(script.contents()) == [f"l{k}" for k in range(5)]


async def test_a_bad_file_fails_the_batch_naming_its_lines(world: World) -> None:
    data = (json.dumps(chat("a")) + "\n" + "not json\n"
            + json.dumps(chat("a")) + "\n"
            + json.dumps({**chat("d"), "url": "/v1/completions"}) + "\n").encode()
    batch_id = world.submit(data)
    script = Script()
    world.start(world.runner(script))
    batch = await world.done(batch_id)
    assert batch["status"] == "failed" and batch["failed_at"] is not None
    assert batch["in_progress_at"] is None and batch["completed_at"] is None
    errors = batch["errors"]
    assert errors["object"] == "list"
    assert [(e["line"], e["code"], e["param"]) for e in errors["data"]] == [
        (2, "invalid_json_line", None), (3, "duplicate_custom_id", "custom_id"),
        (4, "mismatched_url", "url")]
    assert all(e["message"] for e in errors["data"])
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["output_file_id"] is None and batch["error_file_id"] is None
    assert script.calls == []  # nothing ran


async def test_too_many_lines_fails_the_batch(world: World) -> None:
    batch_id = world.submit([chat(f"l{k}") for k in range(4)])
    world.start(world.runner(Script(), max_lines=3))
    batch = await world.done(batch_id)
    assert batch["status"] == "failed"
    assert [e["code"] for e in batch["errors"]["data"]] == ["too_many_lines"]


async def test_a_deleted_input_file_fails_the_batch(world: World) -> None:
    batch_id = world.submit([chat("a")])
    world.files.delete(world.batches.get(batch_id)["input_file_id"])
    world.start(world.runner(Script()))
    batch = await world.done(batch_id)
    assert batch["status"] == "failed"
    assert batch["errors"]["data"][0]["code"] == "invalid_file"


async def test_failing_lines_go_to_the_error_file_and_the_batch_goes_on(world: World) -> None:
    script = Script(status={"bad": 400, "broken": 500})
    batch_id = world.submit([chat("a"), chat("bad"), chat("b"), chat("broken")])
    world.start(world.runner(script))
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert batch["usage"]["input_tokens"] == 20  # the failed lines had no usage
    assert ids(world.read(batch["output_file_id"])) == ["a", "b"]
    errors = world.read(batch["error_file_id"])
    assert ids(errors) == ["bad", "broken"]
    assert [e["response"]["status_code"] for e in errors] == [400, 500]
    assert errors[0]["response"]["body"]["error"]["message"] == "refused bad"
    assert all(e["error"] is None and e["id"].startswith("batch_req_") for e in errors)
    assert world.files.get(batch["error_file_id"]).filename == f"{batch_id}_error.jsonl"


async def test_an_executor_that_raises_fails_only_its_line(world: World) -> None:
    script = Script()

    async def execute(endpoint: str, body: bytes, priority: int) -> tuple[int, bytes]:
        if json.loads(body)["messages"][-1]["content"] == "boom":
            raise RuntimeError("it broke")
        if json.loads(body)["messages"][-1]["content"] == "garbage":
            return 200, b"not json"
        return await script(endpoint, body, priority)

    runner = world.runner(script)
    runner.execute = execute
    batch_id = world.submit([chat("a"), chat("boom"), chat("garbage")])
    world.start(runner)
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    errors = world.read(batch["error_file_id"])
    assert ids(errors) == ["boom", "garbage"]
    assert errors[0]["response"]["status_code"] == 500
    assert "it broke" in errors[0]["response"]["body"]["error"]["message"]


# --- dedup -----------------------------------------------------------------------------------


async def test_equal_deterministic_lines_run_once(world: World) -> None:
    script = Script()
    same = {"temperature": 0, "max_tokens": 5}
    lines = [chat("a1", "same", **same), chat("b", "other", temperature=0),
             chat("a2", "same", **same), chat("r1", "random"), chat("r2", "random"),
             chat("a3", "same", max_tokens=5, temperature=0.0)]
    batch_id = world.submit(lines)
    world.start(world.runner(script, concurrency=1))
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    assert sorted(script.contents()) == ["other", "random", "random", "same"]
    assert batch["request_counts"] == {"total": 6, "completed": 6, "failed": 0}
    assert batch["deduplication"] == {"lines": 2, "input_tokens": 20, "output_tokens": 6}
    # usage counts every line's answer, as it would be billed; dedup says what was saved
    assert batch["usage"]["input_tokens"] == 60 and batch["usage"]["output_tokens"] == 18
    output = {line["custom_id"]: line for line in world.read(batch["output_file_id"])}
    assert sorted(output) == ["a1", "a2", "a3", "b", "r1", "r2"]
    bodies = [output[k]["response"]["body"] for k in ("a1", "a2", "a3")]
    assert len({b["id"] for b in bodies}) == 3  # each its own id...
    assert all(b["id"].startswith("chatcmpl-") for b in bodies)
    assert len({output[k]["response"]["request_id"] for k in ("a1", "a2", "a3")}) == 3
    assert len({output[k]["id"] for k in output}) == 6
    without_id = [{k: v for k, v in b.items() if k != "id"} for b in bodies]
    assert without_id[0] == without_id[1] == without_id[2]  # ...and the same answer


async def test_a_500_on_a_leader_is_not_fanned_out(world: World) -> None:
    script = Script(status={"same": [500, 200]})
    lines = [chat(f"d{k}", "same", temperature=0) for k in range(3)]
    batch_id = world.submit(lines)
    world.start(world.runner(script, concurrency=4))
    batch = await world.done(batch_id)
    assert script.contents() == ["same", "same"]  # the 500, then a follower ran itself
    assert batch["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert batch["deduplication"]["lines"] == 1
    errors = world.read(batch["error_file_id"])
    assert ids(errors) == ["d0"] and errors[0]["response"]["status_code"] == 500
    assert ids(world.read(batch["output_file_id"])) == ["d1", "d2"]


async def test_a_400_on_a_leader_is_the_answer_for_all(world: World) -> None:
    script = Script(status={"same": 400})
    batch_id = world.submit([chat(f"d{k}", "same", seed=7) for k in range(3)])
    world.start(world.runner(script))
    batch = await world.done(batch_id)
    assert script.contents() == ["same"]
    assert batch["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
    assert batch["deduplication"]["lines"] == 2
    assert [e["response"]["status_code"] for e in world.read(batch["error_file_id"])] == \
        [400, 400, 400]


async def test_a_429_leaves_the_line_pending_and_it_runs_later(world: World) -> None:
    script = Script(status={"busy": [429]})
    batch_id = world.submit([chat("a"), chat("busy"), chat("b")])
    world.start(world.runner(script, concurrency=1))
    batch = await world.done(batch_id)
    assert batch["status"] == "completed"
    assert script.contents().count("busy") == 2
    assert batch["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert batch["error_file_id"] is None
    assert ids(world.read(batch["output_file_id"])) == ["a", "busy", "b"]


# --- order, concurrency, priority ------------------------------------------------------------


async def test_lines_run_in_prefix_order(world: World) -> None:
    systems = ["Classify.", "Extract.", "Summarise."]
    lines = [chat(f"l{k:02d}", f"item {k:02d}", system=systems[k % 3]) for k in range(12)]
    batch_id = world.submit(lines)
    script = Script()
    world.start(world.runner(script, concurrency=1))
    await world.done(batch_id)
    ran = script.contents()
    system_of = {f"item {k:02d}": systems[k % 3] for k in range(12)}
    runs = [system_of[content] for content in ran]
    changes = sum(runs[k] != runs[k - 1] for k in range(1, len(runs)))
    assert changes == 2, runs  # each system prompt's lines back to back
    for system in systems:  # and in input order within a group
        group = [c for c in ran if system_of[c] == system]
        assert group == sorted(group)


async def test_never_more_than_concurrency_at_once(world: World) -> None:
    script = Script(delay=0.02)
    batch_id = world.submit([chat(f"l{k}") for k in range(20)])
    world.start(world.runner(script, concurrency=3))
    batch = await world.done(batch_id)
    assert batch["request_counts"]["completed"] == 20
    assert script.most == 3  # reached, never passed
    assert len(script.calls) == 20


async def test_lower_priority_batches_run_first(world: World) -> None:
    script = Script()
    later = world.submit([chat(f"late{k}") for k in range(3)], priority=5)
    first = world.submit([chat(f"early{k}") for k in range(3)], priority=-5)
    world.start(world.runner(script, concurrency=1))
    await world.done(later)
    await world.done(first)
    assert script.contents() == ["early0", "early1", "early2", "late0", "late1", "late2"]
    assert [priority for _, _, priority in script.calls] == [-5, -5, -5, 5, 5, 5]
    assert {endpoint for endpoint, _, _ in script.calls} == {CHAT}


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

