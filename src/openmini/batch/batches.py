"""Batches: the records, their states, and OpenAI's Batch object.

    validating -> in_progress -> finalizing -> completed
        |             |  \\-> (past its window) -> finalizing -> expired
        v             \\-> cancelling -> finalizing -> cancelled
      failed

Every transition is one transaction that sets the status and its timestamp (`<status>_at`),
so a batch read at any time, or after a crash, is in exactly one state with the times of
the ones it went through. The runner (batch/runner.py) moves batches along; this module
only reads, creates and cancels.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from typing import Any

from openmini.batch.store import Store
from openmini.errors import InvalidRequest, NotFound

TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
_WINDOW = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^batch_[0-9a-f]{32}$")
# When the batch record has a `<status>_at` column for it.
_STAMPED = frozenset({"in_progress", "finalizing", "completed", "failed", "expired",
                      "cancelling", "cancelled"})


def window_seconds(window: str) -> int:
    """"24h" -> 86400. OpenAI takes only "24h"; shorter or longer windows (s, m, h, d) are
    an extension."""
    match = _WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        raise InvalidRequest(f"completion_window must be a duration such as \"24h\" (a number "
                             f"and one of s, m, h, d), not {window!r}.",
                             param="completion_window")
    return int(match.group(1)) * _UNITS[match.group(2)]


def new_batch_id() -> str:
    return f"batch_{uuid.uuid4().hex}"


def transition(tx: sqlite3.Connection, batch_id: str, status: str,
               expect: tuple[str, ...], **columns: Any) -> bool:
    """Set `status` (and its timestamp) plus `columns` on one batch, inside `tx`, if it is
    in one of the `expect`ed states (another transition may have come first: a cancel while
    the file was being validated). Whether it was."""
    values = {"status": status, **columns}
    if status in _STAMPED:
        values.setdefault(f"{status}_at", int(time.time()))
    assignments = ", ".join(f"{name} = ?" for name in values)
    marks = ", ".join("?" * len(expect))
    cursor = tx.execute(f"UPDATE batches SET {assignments} WHERE id = ? AND status IN ({marks})",
                        [*values.values(), batch_id, *expect])
    return cursor.rowcount == 1


class Batches:
    """Reading, creating and cancelling batches (the runner does the rest)."""

    def __init__(self, store: Store):
        self.store = store

    def create(self, endpoint: str, input_file_id: str, completion_window: str,
               metadata: dict[str, str] | None, priority: int,
               output_expires_s: int | None = None) -> dict[str, Any]:
        """A new batch, validating; `output_expires_s`: its output and error files expire
        that long after they are written (None: after file_ttl_days)."""
        window_seconds(completion_window)
        batch_id = new_batch_id()
        with self.store.transaction() as tx:
            tx.execute(
                "INSERT INTO batches (id, endpoint, input_file_id, completion_window, status, "
                "priority, created_at, metadata, output_expires_s) "
                "VALUES (?, ?, ?, ?, 'validating', ?, ?, ?, ?)",
                (batch_id, endpoint, input_file_id, completion_window, priority,
                 int(time.time()), json.dumps(metadata) if metadata is not None else None,
                 output_expires_s))
        return self.get(batch_id)

    def row(self, batch_id: str) -> sqlite3.Row:
        row = None
        if isinstance(batch_id, str) and _ID.match(batch_id):
            row = self.store.connection().execute(
                "SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise NotFound(f"No batch found with id '{batch_id}'.", param="batch_id")
        return row

    def get(self, batch_id: str) -> dict[str, Any]:
        return self.to_api(self.row(batch_id))

    def list(self, after: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Newest first; `after`: the id the previous page ended with."""
        conn = self.store.connection()
        if after is None:
            rows = conn.execute("SELECT * FROM batches ORDER BY created_at DESC, id DESC "
                                "LIMIT ?", (limit + 1,)).fetchall()
        else:
            cursor = self.row(after)
            rows = conn.execute(
                "SELECT * FROM batches WHERE (created_at, id) < (?, ?) "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                (cursor["created_at"], cursor["id"], limit + 1)).fetchall()
        return [self.to_api(r) for r in rows[:limit]], len(rows) > limit

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """validating or in_progress -> cancelling (the runner stops its lines and writes
        what finished); cancelling or cancelled again: unchanged; otherwise a 409."""
        with self.store.transaction() as tx:
            row = tx.execute("SELECT status FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                self.row(batch_id)  # the 404
            status = row["status"]
            if status in ("validating", "in_progress"):
                transition(tx, batch_id, "cancelling", ("validating", "in_progress"))
            elif status not in ("cancelling", "cancelled"):
                raise Conflict(f"A batch that is {status} cannot be cancelled.",
                               param="batch_id")
        return self.get(batch_id)

    def to_api(self, row: sqlite3.Row) -> dict[str, Any]:
        """OpenAI's Batch object, with openmini's `priority` and `deduplication`."""
        counts, usage, dedup = self._tallies(row["id"])
        errors = json.loads(row["errors"]) if row["errors"] else None
        return {
            "id": row["id"], "object": "batch", "endpoint": row["endpoint"],
            "model": row["model"],
            "errors": {"object": "list", "data": errors} if errors else None,
            "input_file_id": row["input_file_id"],
            "completion_window": row["completion_window"], "status": row["status"],
            "output_file_id": row["output_file_id"], "error_file_id": row["error_file_id"],
            **{key: row[key] for key in ("created_at", "in_progress_at", "expires_at",
                                         "finalizing_at", "completed_at", "failed_at",
                                         "expired_at", "cancelling_at", "cancelled_at")},
            "request_counts": counts, "usage": usage,
            "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
            "priority": row["priority"], "deduplication": dedup,
        }

    def _tallies(self, batch_id: str) -> tuple[dict[str, int], dict[str, Any], dict[str, int]]:
        row = self.store.connection().execute(
            "SELECT COUNT(*) AS total, "
            "COALESCE(SUM(state = 'done'), 0) AS completed, "
            "COALESCE(SUM(state = 'failed'), 0) AS failed, "
            "COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(cached_tokens), 0) AS cached, "
            "COALESCE(SUM(output_tokens), 0) AS output, "
            "COALESCE(SUM(reasoning_tokens), 0) AS reasoning, "
            "COALESCE(SUM(dedup_of IS NOT NULL), 0) AS dedup_lines, "
            "COALESCE(SUM(CASE WHEN dedup_of IS NOT NULL THEN input_tokens END), 0) AS dedup_in, "
            "COALESCE(SUM(CASE WHEN dedup_of IS NOT NULL THEN output_tokens END), 0) AS dedup_out "
            "FROM lines WHERE batch_id = ?", (batch_id,)).fetchone()
        counts = {"total": row["total"], "completed": row["completed"],
                  "failed": row["failed"]}
        usage = {"input_tokens": row["input"],
                 "input_tokens_details": {"cached_tokens": row["cached"]},
                 "output_tokens": row["output"],
                 "output_tokens_details": {"reasoning_tokens": row["reasoning"]},
                 "total_tokens": row["input"] + row["output"]}
        dedup = {"lines": row["dedup_lines"], "input_tokens": row["dedup_in"],
                 "output_tokens": row["dedup_out"]}
        return counts, usage, dedup


class Conflict(InvalidRequest):
    status = 409
