"""Batch throughput: N chat requests as a Batch API batch vs a naive SDK loop vs 8 SDK clients.

The workload (bench/batch_common.py `workload`, seeded): N support-ticket requests on one
model, temperature 0, max_tokens M; about 20% exact duplicates of other lines (same body,
own custom_id); of the rest ~85% under one of four long system prompts (classification
instructions with a few-shot block, ~300-500 tokens), the others short plain requests. The
file order is shuffled: the loop and the clients send in that order, the batch runner orders
lines itself (prefix grouping) and computes duplicates once.

Three modes, each on a fresh `openmini serve --parallel P --data-dir TMP` (the same flags
and OPENMINI_LIVE_SLOTS every time: with the default, 1, batch lines take at most P - 1
slots while the clients of (b) may take all P). The server is restarted between modes so the
prefix cache starts cold; one short unrelated request warms it up before the clock starts.

  (a) naive: the `openai` SDK, one request after another;
  (b) concurrent: C threads (default 8), each with the SDK, taking requests off one queue;
  (c) batch: upload the file, create the batch, poll every 0.5 s until it is completed,
      download the output file (all in the time).

Reported: wall time, requests/s and output tokens/s per mode; (a)/(c) (goal >= 3.5) and
(b)/(c) (goal >= 1.3); tokens saved by dedup (the batch's `deduplication`) and by the prefix
cache (usage cached_tokens over input_tokens, for the lines actually computed); and whether
all N lines completed (output file checked: every custom_id once, a 200 response each).

    .venv/bin/python bench/batch_throughput.py --model fast --requests 500
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from batch_common import (
    check_output,
    db_lines,
    describe,
    download,
    output_ok,
    sdk,
    serve,
    served_model,
    submit,
    wait_batch,
    workload,
)
from common import parser, ratio, save, table, verdict

MODES = ("naive", "concurrent", "batch")


def _warm(client: Any, model: str) -> None:
    client.chat.completions.create(model=model, max_tokens=1, temperature=0,
                                   messages=[{"role": "user", "content": "Hi"}])


def _one(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = client.chat.completions.create(**body)
    u = r.usage
    details = getattr(u, "prompt_tokens_details", None)
    return {"input": u.prompt_tokens, "output": u.completion_tokens,
            "cached": (getattr(details, "cached_tokens", None) or 0) if details else 0}


def run_clients(client: Any, lines: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """Send every line's body with `workers` threads (1: a plain loop); wall time, tokens."""
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def job(line: dict[str, Any]) -> None:
        try:
            got = _one(client, line["body"])
        except Exception as exc:  # counted, not raised: a failure is a figure
            with lock:
                failures.append(f"{line['custom_id']}: {type(exc).__name__}: {exc}"[:300])
            return
        with lock:
            results.append(got)

    t0 = time.perf_counter()
    if workers == 1:
        for line in lines:
            job(line)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(job, lines))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "ok": len(results), "failed": len(failures),
            "failures": failures[:10],
            "input_tokens": sum(r["input"] for r in results),
            "cached_tokens": sum(r["cached"] for r in results),
            "output_tokens": sum(r["output"] for r in results)}


def run_batch(client: Any, lines: list[dict[str, Any]], db: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    batch_id = submit(client, lines)
    batch = wait_batch(client, batch_id)
    out = download(client, batch.get("output_file_id")) + \
        download(client, batch.get("error_file_id"))
    wall = time.perf_counter() - t0
    check = check_output(lines, out)
    usage, dedup = batch["usage"], batch.get("deduplication") or {}
    # The lines computed (not dedup copies): their own input and cached tokens.
    rows = db_lines(db, batch_id)
    computed = [r for r in rows if r["dedup_of"] is None and r["state"] == "done"]
    stamps = {k: batch.get(k) for k in ("created_at", "in_progress_at", "finalizing_at",
                                        "completed_at")}
    return {"wall_s": wall, "batch_id": batch_id, "status": batch["status"],
            "request_counts": batch["request_counts"], "usage": usage, "deduplication": dedup,
            "errors": batch.get("errors"), "timestamps": stamps,
            "ok": batch["request_counts"]["completed"], "failed":
                batch["request_counts"]["failed"],
            "input_tokens": usage["input_tokens"],
            "cached_tokens": usage["input_tokens_details"]["cached_tokens"],
            "output_tokens": usage["output_tokens"],
            "computed_lines": len(computed),
            "computed_input_tokens": sum(r["input_tokens"] for r in computed),
            "computed_cached_tokens": sum(r["cached_tokens"] for r in computed),
            "computed_output_tokens": sum(r["output_tokens"] for r in computed),
            "output_check": check, "output_ok": output_ok(check, len(lines))}


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=500, help="lines in the workload")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--parallel", type=int, default=8, help="openmini serve --parallel")
    p.add_argument("--clients", type=int, default=8, help="threads of mode (b)")
    p.add_argument("--live-slots", type=int, default=None,
                   help="OPENMINI_LIVE_SLOTS for the server, every mode (default: the "
                   "server's, 1: batch lines take at most parallel - 1 slots)")
    p.add_argument("--dup-share", type=float, default=0.2, help="share of exact duplicates")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--modes", default=",".join(MODES),
                   help=f"which to run, in this order (comma-separated: {', '.join(MODES)})")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    a = p.parse_args()
    if a.quick:
        a.requests, a.max_tokens = min(a.requests, 40), min(a.max_tokens, 8)
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not set(modes) <= set(MODES):
        p.error(f"--modes takes {', '.join(MODES)}")

    env = {"OPENMINI_LIVE_SLOTS": str(a.live_slots)} if a.live_slots is not None else None
    root = Path(tempfile.mkdtemp(prefix="bench-batch-throughput-"))
    results: dict[str, dict[str, Any]] = {}
    shape: dict[str, Any] = {}
    try:
        for mode in modes:
            data_dir = root / mode
            print(f"[{mode}] starting openmini serve --model {a.model} --parallel "
                  f"{a.parallel} --threads {a.threads}"
                  + (f" OPENMINI_LIVE_SLOTS={a.live_slots}" if env else "")
                  + " (fresh, cold prefix cache)", flush=True)
            with serve(a.model, a.threads, a.parallel, data_dir, env) as server:
                client = sdk(server)
                model = served_model(server)
                lines = workload(a.requests, model, a.max_tokens, a.dup_share, seed=a.seed)
                shape = describe(lines)
                _warm(client, model)
                if mode == "batch":
                    r = run_batch(client, lines, data_dir / "openmini.sqlite3")
                else:
                    r = run_clients(client, lines, 1 if mode == "naive" else a.clients)
            results[mode] = r
            print(f"[{mode}] {r['wall_s']:.1f} s, {r['ok']} ok, {r['failed']} failed",
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\nworkload: {shape['lines']} lines, {shape['duplicates']} exact duplicates, "
          f"{shape['with_system_prompt']} under one of {shape['system_prompts']} long system "
          f"prompts; model {a.model}, max_tokens {a.max_tokens}, temperature 0; "
          f"serve --parallel {a.parallel} --threads {a.threads}, live slots "
          f"{a.live_slots if env else 'default (1)'}, restarted per mode (cold prefix cache)")
    rows = []
    for mode in modes:
        r = results[mode]
        label = {"naive": "(a) naive SDK loop", "concurrent": f"(b) {a.clients} SDK clients",
                 "batch": "(c) Batch API"}[mode]
        rows.append([label, r["wall_s"], ratio(r["ok"], r["wall_s"]),
                     ratio(r["output_tokens"], r["wall_s"]), r["ok"], r["failed"],
                     r["input_tokens"], r["cached_tokens"],
                     f"{100 * ratio(r['cached_tokens'], r['input_tokens']):.0f}%"])
    table("Wall time per mode", ["mode", "wall s", "req/s", "out tok/s", "ok", "failed",
                                 "input tok", "cached tok", "cached"], rows)

    summary: dict[str, Any] = {"workload": shape, "requests": a.requests,
                               "max_tokens": a.max_tokens, "parallel": a.parallel,
                               "live_slots": a.live_slots,
                               "modes": results}
    goals = []
    b = results.get("batch")
    if b:
        for mode, target, name in (("naive", 3.5, "a_over_c"), ("concurrent", 1.3, "b_over_c")):
            if mode in results:
                x = ratio(results[mode]["wall_s"], b["wall_s"])
                summary[name] = x
                goals.append([f"{'(a)' if mode == 'naive' else '(b)'} / (c) wall time", x,
                              verdict(x, target, True)])
        d = b["deduplication"]
        all_done = b["status"] == "completed" and b["ok"] == a.requests and b["failed"] == 0 \
            and b["output_ok"]
        goals.append([f"all {a.requests} lines completed, output file exact",
                      f"{b['ok']}/{a.requests}", "PASS" if all_done else "MISS"])
        computed_prefill = b["computed_input_tokens"] - b["computed_cached_tokens"]
        table("Tokens saved by the batch", ["figure", "value"], [
            ["dedup: lines answered from another line", d.get("lines")],
            ["dedup: input tokens not computed", d.get("input_tokens")],
            ["dedup: output tokens not generated", d.get("output_tokens")],
            ["lines computed (not dedup copies)", b["computed_lines"]],
            ["prefix cache: cached / input tokens of those",
             f"{b['computed_cached_tokens']}/{b['computed_input_tokens']} "
             f"({100 * ratio(b['computed_cached_tokens'], b['computed_input_tokens']):.0f}%)"],
            ["prompt tokens actually computed", computed_prefill],
            *([["naive loop: prompt tokens computed",
                results["naive"]["input_tokens"] - results["naive"]["cached_tokens"]]]
              if "naive" in results else []),
            *([[f"{a.clients} clients: prompt tokens computed",
                results["concurrent"]["input_tokens"] - results["concurrent"]["cached_tokens"]]]
              if "concurrent" in results else []),
        ])
        summary.update(dedup=d, prefix_cached_tokens=b["computed_cached_tokens"],
                       prefix_input_tokens=b["computed_input_tokens"], all_completed=all_done)
        if not b["output_ok"]:
            print("output file check:", json.dumps(b["output_check"])[:1000])
    for mode in ("naive", "concurrent"):
        if mode in results and results[mode]["failed"]:
            print(f"{mode} failures (first):", results[mode]["failures"][:3])
    if goals:
        table("Goals", ["figure", "value", "verdict"], goals)
    save("batch_throughput", a, summary)
    if a.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "modes"} |
                         {"wall_s": {m: r["wall_s"] for m, r in results.items()}},
                         default=str))


if __name__ == "__main__":
    main()
