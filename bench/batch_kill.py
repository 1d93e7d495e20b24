"""Crash safety: a batch killed with SIGKILL at random points, then run to the end; exact results?

Part 1, offline: an N-line batch (default 200: bench/batch_common.py `workload`, ~20% exact
duplicates, temperature 0, max_tokens 16) run with `openmini batch run IN -o OUT --model M`
in a child process; killed with SIGKILL K times (default 3), each a random 1..--kill-max s
(seeded) after that run's first new line was committed (the state database,
OUT.state/openmini.sqlite3, is watched); then the same command once more, to the end.
Part 2, server: `openmini serve -m M --data-dir D`, the same file submitted through the
`openai` SDK (upload, create), the server killed with SIGKILL --server-kills times at random
points while the batch runs and restarted with the same --data-dir; the batch must resume
and complete; its output and error files are downloaded.

Checked each time: OUT (or the output + error files) has exactly N lines, every custom_id
once, each a 200 response or an error; response ids distinct (dedup copies get their own);
the batch's request_counts exact (completed + failed == N; completed == N when nothing
failed) and equal to the database's; no line pending; and every line committed before a kill
is unchanged at the end (same request id and response: committed once, never run again).
"lines lost" = custom_ids missing from the output; "run twice" = custom_ids or response ids
repeated in it, plus committed lines whose result changed after a restart.

    .venv/bin/python bench/batch_kill.py --model tiny --lines 200 --kills 3 --server-kills 3
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batch_common import (
    check_output,
    db_batch,
    db_lines,
    download,
    get_batch,
    output_ok,
    sdk,
    serve,
    submit,
    wait_batch,
    workload,
    write_jsonl,
)
from common import parser, save, table, verdict


def committed(db: Path) -> dict[int, tuple[str, str | None, str | None]]:
    """line -> (state, request_id, response) of every line no longer pending."""
    return {r["line"]: (r["state"], r["request_id"], r["response"])
            for r in db_lines(db) if r["state"] != "pending"}


def _wait_progress(db: Path, before: int, proc: subprocess.Popen[bytes] | None,
                   timeout: float = 600) -> bool:
    """Until more lines than `before` are committed (False if the process ended first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if len(committed(db)) > before:
            return True
        time.sleep(0.1)
    raise TimeoutError(f"no progress in {db} after {timeout} s")


def changed(snapshots: list[dict[int, Any]], final: dict[int, Any]) -> list[int]:
    """Lines committed at some kill whose result is not the same at the end."""
    return sorted({line for snap in snapshots for line, value in snap.items()
                   if final.get(line) != value})


def db_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {"total": len(rows), "done": sum(r["state"] == "done" for r in rows),
            "failed": sum(r["state"] == "failed" for r in rows),
            "pending": sum(r["state"] == "pending" for r in rows),
            "dedup_copies": sum(r["dedup_of"] is not None for r in rows)}


def verdicts(name: str, lines: list[dict[str, Any]], out: list[dict[str, Any]],
             counts: dict[str, int], rows: list[dict[str, Any]], overwritten: list[int],
             status: str) -> dict[str, Any]:
    n = len(lines)
    check = check_output(lines, out)
    dbc = db_counts(rows)
    lost = len(check["missing"]) + dbc["pending"]
    twice = (len(check["repeated"]) + len(check["repeated_response_ids"]) + len(overwritten)
             + max(0, dbc["done"] + dbc["failed"] - n))
    exact = (status == "completed" and counts.get("total") == n
             and counts.get("completed", 0) + counts.get("failed", 0) == n
             and counts.get("completed") == dbc["done"] == check["responses"]
             and counts.get("failed") == dbc["failed"] == check["errors"])
    return {"name": name, "status": status, "lines_out": check["lines"], "lost": lost,
            "twice": twice, "counts": counts, "db": dbc, "counts_exact": exact,
            "output_ok": output_ok(check, n), "overwritten": overwritten[:20], "check": check}


# --- part 1: `openmini batch run` ---------------------------------------------------------

def offline(a: Any, root: Path, rng: random.Random) -> dict[str, Any]:
    lines = workload(a.lines, a.model, a.max_tokens, a.dup_share, seed=a.seed)
    src = write_jsonl(lines, root / "in.jsonl")
    out = root / "out.jsonl"
    db = root / "out.jsonl.state" / "openmini.sqlite3"
    argv = [sys.executable, "-m", "openmini.cli.main", "batch", "run", str(src), "-o", str(out),
            "--model", a.model, "--threads", str(a.threads), "--parallel", str(a.parallel)]
    log = root / "batch-run.log"
    kills, snapshots = [], []
    for k in range(a.kills + 1):
        last = k == a.kills
        before = len(committed(db))
        with log.open("ab") as f:
            f.write(f"\n=== run {k + 1}{' (to the end)' if last else ''}\n".encode())
            f.flush()
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        if last:
            rc = proc.wait(timeout=a.timeout)
            print(f"  run {k + 1}: to the end, exit {rc}, {time.monotonic() - t0:.1f} s",
                  flush=True)
            break
        try:
            started = _wait_progress(db, before, proc)
            delay = rng.uniform(1.0, a.kill_max)
            ended = False
            if started:
                end = time.monotonic() + delay
                while time.monotonic() < end and proc.poll() is None:
                    time.sleep(0.05)
                ended = proc.poll() is not None
            else:
                ended = True
            if not ended:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        snap = committed(db)
        snapshots.append(snap)
        batch = db_batch(db) or {}
        kills.append({"run": k + 1, "delay_s": round(delay, 2) if started else None,
                      "killed": not ended, "exit": proc.returncode,
                      "committed_before": before, "committed_at_kill": len(snap),
                      "status": batch.get("status")})
        print(f"  run {k + 1}: " + (f"SIGKILL {delay:.1f} s after progress, {len(snap)}/"
                                    f"{a.lines} committed, batch {batch.get('status')}"
                                    if not ended else f"ended by itself (exit "
                                    f"{proc.returncode}) before the kill"), flush=True)
        if ended:
            break
    tail = log.read_text(errors="replace")[-600:]
    rc = proc.returncode
    result_lines = [json.loads(x) for x in out.read_text().splitlines() if x.strip()] \
        if out.exists() else []
    rows = db_lines(db)
    batch = db_batch(db) or {}
    counts = {"total": batch.get("total"), "completed": sum(r["state"] == "done" for r in rows),
              "failed": sum(r["state"] == "failed" for r in rows)}
    # The CLI's own last word: "<completed> done, <failed> failed -> OUT".
    said = next((ln for ln in reversed(tail.splitlines()) if " done, " in ln and "->" in ln), "")
    try:
        counts["cli_completed"], counts["cli_failed"] = (
            int(said.split(" done, ")[0].split()[-1]), int(said.split(" done, ")[1].split()[0]))
    except (IndexError, ValueError):
        counts["cli_completed"] = counts["cli_failed"] = None
    v = verdicts("offline (batch run)", lines, result_lines, counts, rows,
                 changed(snapshots, committed(db)), batch.get("status") or "?")
    v["counts_exact"] = v["counts_exact"] and counts["cli_completed"] == counts["completed"] \
        and counts["cli_failed"] == counts["failed"] and rc == 0
    v.update(exit=rc, kills=kills, killed=sum(1 for x in kills if x["killed"]))
    if rc != 0:
        v["log_tail"] = tail
    return v


# --- part 2: `openmini serve` -------------------------------------------------------------

def _progressed(before: int) -> Callable[[dict[str, Any]], bool]:
    """In progress with more lines recorded than `before`."""
    def check(b: dict[str, Any]) -> bool:
        c = b["request_counts"]
        return bool(b["status"] == "in_progress" and c["completed"] + c["failed"] > before)
    return check


def server(a: Any, root: Path, rng: random.Random) -> dict[str, Any]:
    data = root / "server-data"
    db = data / "openmini.sqlite3"
    lines = workload(a.lines, a.model, a.max_tokens, a.dup_share, seed=a.seed)
    kills, snapshots = [], []
    srv = serve(a.model, a.threads, a.parallel, data)
    try:
        client = sdk(srv)
        batch_id = submit(client, lines)
        for k in range(a.server_kills):
            before = len(committed(db))
            wait_batch(client, batch_id, poll_s=0.1, until=_progressed(before))
            delay = rng.uniform(1.0, a.kill_max)
            time.sleep(delay)
            status = get_batch(client, batch_id)["status"]
            if status in {"completed", "failed", "expired", "cancelled"}:
                print(f"  server kill {k + 1}: the batch was already {status}", flush=True)
                break
            os.kill(srv.pid, signal.SIGKILL)
            srv.proc.wait()
            srv.stop()
            snap = committed(db)
            snapshots.append(snap)
            st = (db_batch(db) or {}).get("status")
            kills.append({"kill": k + 1, "delay_s": round(delay, 2), "committed_before": before,
                          "committed_at_kill": len(snap), "status": st})
            print(f"  server kill {k + 1}: SIGKILL {delay:.1f} s after progress, {len(snap)}/"
                  f"{a.lines} committed, batch {st}; restarting", flush=True)
            srv = serve(a.model, a.threads, a.parallel, data)
            client = sdk(srv)
        t0 = time.monotonic()
        final = wait_batch(client, batch_id, timeout=a.timeout)
        print(f"  after the last restart: {final['status']} in {time.monotonic() - t0:.1f} s",
              flush=True)
        out = download(client, final.get("output_file_id")) + \
            download(client, final.get("error_file_id"))
    finally:
        srv.stop()
    rows = db_lines(db, batch_id)
    v = verdicts("server (serve + SDK)", lines, out, final["request_counts"], rows,
                 changed(snapshots, committed(db)), final["status"])
    v.update(kills=kills, killed=len(kills), deduplication=final.get("deduplication"))
    return v


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.set_defaults(model="tiny")
    p.add_argument("--lines", type=int, default=200)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--dup-share", type=float, default=0.2)
    p.add_argument("--kills", type=int, default=3, help="SIGKILLs of `batch run`")
    p.add_argument("--server-kills", type=int, default=3, help="SIGKILLs of the server "
                   "(0: skip part 2)")
    p.add_argument("--kill-max", type=float, default=15.0,
                   help="each kill comes 1..this many s after progress (uniform, seeded)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--timeout", type=float, default=3600, help="for a run to the end")
    p.add_argument("--skip-offline", action="store_true", help="only part 2")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    a = p.parse_args()
    if a.quick:
        a.lines, a.max_tokens = min(a.lines, 40), min(a.max_tokens, 8)
    rng = random.Random(a.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-batch-kill-"))
    parts = []
    try:
        if not a.skip_offline:
            print(f"part 1: openmini batch run, {a.lines} lines on {a.model}, {a.kills} "
                  "kills", flush=True)
            parts.append(offline(a, root, rng))
        if a.server_kills:
            print(f"part 2: openmini serve, {a.lines} lines on {a.model}, {a.server_kills} "
                  "kills", flush=True)
            parts.append(server(a, root, rng))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    table(f"{a.lines}-line batch killed with SIGKILL, then run to the end",
          ["run", "kills", "status", "lines out", "completed", "failed", "dedup copies",
           "counts exact", "output exact", "lines lost", "run twice"],
          [[v["name"], v["killed"], v["status"], v["lines_out"], v["counts"].get("completed"),
            v["counts"].get("failed"), v["db"]["dedup_copies"], v["counts_exact"],
            v["output_ok"], v["lost"], v["twice"]] for v in parts])
    for v in parts:
        print(f"{v['name']}: lines lost: {v['lost']}, run twice: {v['twice']}")
        if not (v["output_ok"] and v["counts_exact"]):
            print("  problems:", json.dumps({k: v[k] for k in ("counts", "db", "overwritten")}),
                  json.dumps({k: x for k, x in v["check"].items() if x})[:1500])
            if v.get("log_tail"):
                print("  log tail:", v["log_tail"])
    lost, twice = sum(v["lost"] for v in parts), sum(v["twice"] for v in parts)
    exact = all(v["output_ok"] and v["counts_exact"] for v in parts)
    table("Goals", ["figure", "value", "verdict"], [
        ["lines lost", lost, verdict(lost, 0, False)],
        ["lines run twice", twice, verdict(twice, 0, False)],
        ["counts and files exact", exact, "PASS" if exact else "MISS"]])
    summary = {"lines": a.lines, "lost": lost, "twice": twice, "exact": exact,
               "parts": [{k: v[k] for k in v if k != "check"} for v in parts]}
    save("batch_kill", a, summary)
    if a.json:
        print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
