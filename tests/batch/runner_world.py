"""The runner tests' harness: a real Store and FileStore in tmp_path, a scripted executor in
place of the server (Script), and the World that submits batches and waits on them."""


from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

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


