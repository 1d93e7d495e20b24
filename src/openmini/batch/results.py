"""A line's result: committed in one transaction with the lines that share its answer, and
written out as OpenAI's output and error files when the batch ends.

A line is `done` (a response under 400) or `failed` (a response of 400 or more, or no
response: the window expired, the batch was cancelled, the request could not be run). Lines
that are deterministic and equal (batch/validate.py `digest`) take the answer of the first
that ran, each with its own response id, in the transaction that commits that first one.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openmini.backends.anthropic_stream import usage_of as anthropic_usage
from openmini.backends.openai_stream import usage_of as openai_usage
from openmini.batch.store import Store
from openmini.types import Usage

_ID_PREFIX = re.compile(r"^[A-Za-z]+[-_]")


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    request_id: str


def usage_of(body: dict[str, Any]) -> Usage:
    """The usage of a response body: OpenAI's shape (chat, completions) or Anthropic's
    (messages), read as the upstream backends read them."""
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    if "input_tokens" in usage:
        return anthropic_usage(usage)
    return openai_usage(usage)


def _renamed(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a response for another line: its own id, with the same prefix."""
    old = body.get("id")
    if not isinstance(old, str):
        return body
    match = _ID_PREFIX.match(old)
    return {**body, "id": f"{match.group(0) if match else ''}{uuid.uuid4().hex}"}


def commit(store: Store, batch_id: str, line: int, digest: str | None,
           outcome: Outcome) -> int:
    """Record `line`'s outcome, and fan it out to the pending lines with its digest when the
    outcome is the request's own (under 500: not a failure of the moment). The number of
    lines recorded."""
    state = "done" if outcome.status_code < 400 else "failed"
    usage = usage_of(outcome.body)
    with store.transaction() as tx:
        followers: list[int] = []
        if digest is not None and outcome.status_code < 500:
            followers = [r[0] for r in tx.execute(
                "SELECT line FROM lines WHERE batch_id = ? AND digest = ? AND state = "
                "'pending' AND line != ?", (batch_id, digest, line))]
        done = _record(tx, batch_id, line, state, outcome, outcome.body, usage, None)
        for other in followers:
            copy = Outcome(outcome.status_code, outcome.body, f"req_{uuid.uuid4().hex}")
            done += _record(tx, batch_id, other, state, copy, _renamed(outcome.body), usage,
                            line)
    return done


def _record(tx: sqlite3.Connection, batch_id: str, line: int, state: str, outcome: Outcome,
            body: dict[str, Any], usage: Usage, leader: int | None) -> int:
    cursor = tx.execute(
        "UPDATE lines SET state = ?, status_code = ?, request_id = ?, response = ?, "
        "dedup_of = ?, input_tokens = ?, cached_tokens = ?, output_tokens = ?, "
        "reasoning_tokens = ? WHERE batch_id = ? AND line = ? AND state = 'pending'",
        (state, outcome.status_code, outcome.request_id, json.dumps(body), leader,
         usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
         usage.reasoning_tokens, batch_id, line))
    return cursor.rowcount


def fail_pending(tx: sqlite3.Connection, batch_id: str, code: str, message: str) -> int:
    """Every line not yet run: failed with no response (expired, cancelled)."""
    error = json.dumps({"code": code, "message": message})
    return tx.execute("UPDATE lines SET state = 'failed', error = ? WHERE batch_id = ? AND "
                      "state = 'pending'", (error, batch_id)).rowcount


def line_id(batch_id: str, line: int) -> str:
    """The output line's id: the same every time the file is written."""
    return "batch_req_" + hashlib.sha256(f"{batch_id}:{line}".encode()).hexdigest()[:32]


def result_lines(store: Store, batch_id: str, states: tuple[str, ...]) -> Iterator[bytes]:
    """The output file's lines (state "done"), the error file's ("failed") or both, in
    input order, read a page at a time."""
    conn = store.connection()
    marks = ", ".join("?" * len(states))
    last = 0
    while True:
        rows = conn.execute(
            "SELECT line, custom_id, status_code, request_id, response, error FROM lines "
            f"WHERE batch_id = ? AND state IN ({marks}) AND line > ? ORDER BY line LIMIT 1000",
            (batch_id, *states, last)).fetchall()
        if not rows:
            return
        for row in rows:
            yield (json.dumps(_output(batch_id, row), ensure_ascii=False) + "\n").encode()
        last = rows[-1]["line"]


def _output(batch_id: str, row: sqlite3.Row) -> dict[str, Any]:
    response = None
    if row["status_code"] is not None:
        response = {"status_code": row["status_code"], "request_id": row["request_id"],
                    "body": json.loads(row["response"])}
    error = json.loads(row["error"]) if row["error"] else None
    return {"id": line_id(batch_id, row["line"]), "custom_id": row["custom_id"],
            "response": response, "error": error}
