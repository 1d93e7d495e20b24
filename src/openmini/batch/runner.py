"""The batch runner: moves batches through their states and feeds their lines to the server.

One asyncio task in the server process (or in `openmini batch run`). Each pass it validates
new batches, expires those past their window, ends cancelled ones once their running lines
are done, finalizes finished ones, and keeps up to `concurrency` lines in flight: batches by
priority, then age; within a batch, pending lines in prefix order (batch/validate.py
`prefix_key`, so lines sharing a system prompt or document run back to back and find it in
the prefix cache), never two lines with the same deterministic digest at once (the second
takes the first's answer: batch/results.py). Lines go through `execute`, which runs them on
the server's own endpoints in the batch lane (batch/dispatch.py): after every live request.

Nothing here is kept only in memory: a line counts once its result is committed, so after a
crash the runner starts again from the database and runs what had not finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from openmini.batch.batches import transition, window_seconds
from openmini.batch.files import FileStore
from openmini.batch.results import Outcome, commit, fail_pending, result_lines
from openmini.batch.store import Store
from openmini.batch.validate import ModelCheck, check_file
from openmini.errors import NotFound, OpenMiniError

log = logging.getLogger("openmini.batch")

# (endpoint, JSON body, batch priority) -> (HTTP status, response body)
Executor = Callable[[str, bytes, int], Awaitable[tuple[int, bytes]]]
RETRY_LATER = frozenset({429})  # the server is full: the line waits, it has not failed
EXPIRED = ("batch_expired", "This request could not be executed before the completion "
           "window expired.")
CANCELLED = ("batch_cancelled", "The batch was cancelled before this request ran.")


@dataclass
class _Flight:
    tasks: dict[tuple[str, int], asyncio.Task[None]] = field(default_factory=dict)
    digests: dict[str, set[str]] = field(default_factory=dict)  # batch -> digests running

    def of(self, batch_id: str) -> list[int]:
        return [line for (b, line) in self.tasks if b == batch_id]


class Runner:
    def __init__(self, store: Store, files: FileStore, endpoints: dict[str, type[BaseModel]],
                 execute: Executor, served: ModelCheck | None, concurrency: int,
                 max_lines: int, poll_s: float = 1.0):
        self.store, self.files, self.endpoints = store, files, endpoints
        self.execute, self.served = execute, served
        self.concurrency, self.max_lines, self.poll_s = concurrency, max_lines, poll_s
        self._flight = _Flight()
        self._wake = asyncio.Event()
        self._backoff_until = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Forever (cancel the task to stop: lines in flight are cancelled, not recorded, and
        have ended when it returns)."""
        try:
            while True:
                try:
                    await self.step()
                except Exception:  # a bad pass is logged and retried, the runner goes on
                    log.exception("batch runner pass failed")
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the wake-up
                # when a cancel lands as it comes (a line landing at shutdown), and the runner
                # would never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            tasks = list(self._flight.tasks.values())
            for task in tasks:
                task.cancel()
            # before the caller closes the backend or the store under them
            await asyncio.gather(*tasks, return_exceptions=True)

    async def step(self) -> None:
        rows = self.store.connection().execute(
            "SELECT * FROM batches WHERE status IN ('validating', 'in_progress', "
            "'cancelling', 'finalizing') ORDER BY priority, created_at, id").fetchall()
        now = int(time.time())
        for row in rows:
            status = row["status"]
            late = row["expires_at"] is not None and now >= row["expires_at"]
            if status == "validating":
                await self._validate(row)
            elif status == "in_progress" and late:
                await self._end(row["id"], "expired", EXPIRED, cancel_running=True)
            elif status == "cancelling":
                # running lines may finish, but not past the window: a stuck one would
                # keep the batch cancelling for ever
                if late or not self._flight.of(row["id"]):
                    await self._end(row["id"], "cancelled", CANCELLED, cancel_running=late)
            elif status == "finalizing":
                await self._finalize(row["id"], row["outcome"] or "completed")
        self._fill()
        for row in self.store.connection().execute(
                "SELECT id FROM batches WHERE status = 'in_progress' AND NOT EXISTS (SELECT 1 "
                "FROM lines WHERE batch_id = batches.id AND state = 'pending')").fetchall():
            if not self._flight.of(row["id"]):
                await self._end(row["id"], "completed", None, cancel_running=False)

    # --- validation -------------------------------------------------------------------------

    async def _validate(self, row: Any) -> None:
        batch_id = row["id"]
        schema = self.endpoints.get(row["endpoint"])
        try:
            path: Path | None = self.files.path(row["input_file_id"])
        except NotFound:
            path = None
        if schema is None or path is None:
            self._fail(batch_id, [{"code": "invalid_file" if path is None else
                                   "invalid_endpoint", "line": None, "param": None,
                                   "message": "The input file no longer exists."
                                   if path is None else "The endpoint is not served."}])
            return
        checked = await asyncio.to_thread(check_file, path, row["endpoint"], schema,
                                          self.max_lines, self.served)
        if checked.problems:
            self._fail(batch_id, [p.to_api() for p in checked.problems])
            return
        models = {line.model for line in checked.lines}
        with self.store.transaction() as tx:
            status = tx.execute("SELECT status FROM batches WHERE id = ?", (batch_id,))
            if status.fetchone()[0] != "validating":  # cancelled meanwhile
                return
            tx.execute("DELETE FROM lines WHERE batch_id = ?", (batch_id,))
            tx.executemany(
                "INSERT INTO lines (batch_id, line, custom_id, body, digest, prefix) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(batch_id, x.number, x.custom_id, x.body, x.digest, x.prefix)
                 for x in checked.lines])
            expires = int(time.time()) + window_seconds(row["completion_window"])
            transition(tx, batch_id, "in_progress", ("validating",), expires_at=expires,
                       total=len(checked.lines),
                       model=models.pop() if len(models) == 1 else None)

    def _fail(self, batch_id: str, errors: list[dict[str, Any]]) -> None:
        with self.store.transaction() as tx:
            transition(tx, batch_id, "failed", ("validating",), errors=json.dumps(errors))

    # --- lines ------------------------------------------------------------------------------

    def _fill(self) -> None:
        room = self.concurrency - len(self._flight.tasks)
        if room <= 0 or time.monotonic() < self._backoff_until:
            return
        conn = self.store.connection()
        batches = conn.execute("SELECT id, endpoint, priority FROM batches WHERE status = "
                               "'in_progress' ORDER BY priority, created_at, id").fetchall()
        for batch in batches:
            if room <= 0:
                return
            running = self._flight.of(batch["id"])
            digests = sorted(self._flight.digests.get(batch["id"], ()))
            query = ("SELECT line, body, digest FROM lines WHERE batch_id = ? AND state = "
                     f"'pending' AND line NOT IN ({','.join('?' * len(running))}) AND "
                     f"(digest IS NULL OR digest NOT IN ({','.join('?' * len(digests))})) "
                     "ORDER BY prefix, line LIMIT ?")
            rows = conn.execute(query, (batch["id"], *running, *digests, room * 4)).fetchall()
            for line in rows:
                if room <= 0:
                    return
                if line["digest"] is not None and \
                        line["digest"] in self._flight.digests.get(batch["id"], ()):
                    continue  # an equal line is running: this one takes its answer
                self._launch(batch["id"], batch["endpoint"], batch["priority"], line)
                room -= 1

    def _launch(self, batch_id: str, endpoint: str, priority: int, line: Any) -> None:
        key = (batch_id, int(line["line"]))
        digest = line["digest"]
        if digest is not None:
            self._flight.digests.setdefault(batch_id, set()).add(digest)
        task = asyncio.create_task(self._run_line(batch_id, endpoint, priority, key[1],
                                                  line["body"], digest))
        self._flight.tasks[key] = task

        def landed(_: asyncio.Task[None]) -> None:
            self._flight.tasks.pop(key, None)
            if digest is not None:
                self._flight.digests.get(batch_id, set()).discard(digest)
            self._wake.set()

        task.add_done_callback(landed)

    async def _run_line(self, batch_id: str, endpoint: str, priority: int, line: int,
                        body: str, digest: str | None) -> None:
        request_id = f"req_{uuid.uuid4().hex}"
        try:
            status, payload = await self.execute(endpoint, body.encode(), priority)
            parsed = json.loads(payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the line fails, the batch goes on
            log.exception("batch line %s:%d could not run", batch_id, line)
            status = 500
            parsed = OpenMiniError(f"The request could not be run: {exc}").envelope()
        if status in RETRY_LATER:
            self._backoff_until = time.monotonic() + 1.0
            return
        if not isinstance(parsed, dict):
            parsed = {"value": parsed}
        commit(self.store, batch_id, line, digest, Outcome(status, parsed, request_id))

    # --- the end of a batch -----------------------------------------------------------------

    async def _end(self, batch_id: str, outcome: str, unrun: tuple[str, str] | None,
                   cancel_running: bool) -> None:
        """Lines not run get `unrun`'s error; then finalizing -> `outcome`."""
        if cancel_running:
            tasks = [t for (b, _), t in self._flight.tasks.items() if b == batch_id]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with self.store.transaction() as tx:
            if unrun is not None:
                fail_pending(tx, batch_id, *unrun)
            stamps = {"expired_at": int(time.time())} if outcome == "expired" else {}
            transition(tx, batch_id, "finalizing", ("in_progress", "cancelling"),
                       outcome=outcome, **stamps)
        await self._finalize(batch_id, outcome)

    async def _finalize(self, batch_id: str, outcome: str) -> None:
        """Write the output and error files (ids fixed per batch: writing again after a
        crash replaces them), then the batch's last state."""
        output = await asyncio.to_thread(self._write, batch_id, "done", "output")
        errors = await asyncio.to_thread(self._write, batch_id, "failed", "error")
        with self.store.transaction() as tx:
            transition(tx, batch_id, outcome, ("finalizing",), output_file_id=output,
                       error_file_id=errors)

    def _write(self, batch_id: str, state: str, kind: str) -> str | None:
        has = self.store.connection().execute(
            "SELECT 1 FROM lines WHERE batch_id = ? AND state = ? LIMIT 1",
            (batch_id, state)).fetchone()
        if has is None:
            return None
        expires = self.store.connection().execute(
            "SELECT output_expires_s FROM batches WHERE id = ?", (batch_id,)).fetchone()[0]
        file_id = "file-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{batch_id}/{kind}").hex
        record = self.files.create(result_lines(self.store, batch_id, (state,)),
                                   f"{batch_id}_{kind}.jsonl", "batch_output", file_id=file_id,
                                   expires_after_s=expires)
        return record.id
