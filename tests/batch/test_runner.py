"""The batch runner (batch/runner.py) over a real Store and FileStore, a scripted executor in
place of the server: the state machine, counts and usage, dedup, retries, prefix order,
concurrency and priorities."""


from __future__ import annotations

import asyncio
import json

from batch.runner_world import (
    CHAT,
    Script,
    World,
    chat,
    ids,
)

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


