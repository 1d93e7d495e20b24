"""Live traffic during a batch: TTFT of an interactive streaming request, idle vs under a batch.

One `openmini serve --parallel P --data-dir TMP` (OPENMINI_LIVE_SLOTS=K when --live-slots is
given: the sequence slots batch lines never take). First, on the idle server, K interactive
requests (default 15: short, different questions, streaming, max_tokens 16, temperature 0)
one after another, ~1 s apart; TTFT = time to the first chunk with content, through the
`openai` SDK. Then a batch of N lines (default 500: bench/batch_common.py `workload`, the
ticket-classification file of batch_throughput.py) is submitted; once it is in_progress with
some lines done, the same requests again, the same way. The batch's progress is read before
each request: only requests sent while it was in_progress (before and after) count as "under
the batch". Goal: p50 TTFT under the batch <= 1.5x p50 idle.

    .venv/bin/python bench/batch_live.py --model fast --batch-lines 500
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from batch_common import (
    fmt_counts,
    get_batch,
    sdk,
    serve,
    served_model,
    submit,
    wait_batch,
    workload,
)
from common import median, parser, pct, ratio, save, table, verdict

QUESTIONS = ["What is the capital of France?", "Name three primary colours.",
             "How many legs does a spider have?", "What does CPU stand for?",
             "Give me a synonym for 'happy'.", "What is 12 times 12?",
             "Which planet is known as the red planet?", "Translate 'thank you' into Spanish.",
             "What is the boiling point of water in Celsius?", "Who wrote Hamlet?",
             "What colour is a ripe banana?", "How many days are in a leap year?",
             "What gas do plants absorb from the air?", "Name a famous painting by Da Vinci.",
             "What is the largest ocean on Earth?", "What is the square root of 81?",
             "Which animal is known as the king of the jungle?", "What is H2O?",
             "How many continents are there?", "What language is spoken in Brazil?"]


def interactive(client: Any, model: str, question: str, max_tokens: int) -> dict[str, Any]:
    """One streaming chat request; TTFT (first content chunk) and total time."""
    t0 = time.perf_counter()
    ttft, chunks = float("nan"), 0
    stream = client.chat.completions.create(
        model=model, max_tokens=max_tokens, temperature=0, stream=True,
        messages=[{"role": "user", "content": question}])
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            chunks += 1
            if chunks == 1:
                ttft = time.perf_counter() - t0
    return {"ttft": ttft, "total": time.perf_counter() - t0, "chunks": chunks}


def series(client: Any, model: str, n: int, gap: float, max_tokens: int,
           batch_id: str | None = None) -> list[dict[str, Any]]:
    """`n` interactive requests, each started `gap` s after the previous one started (or at
    once, if it took longer); with `batch_id`, the batch's progress read around each."""
    runs = []
    for i in range(n):
        start = time.monotonic()
        before = get_batch(client, batch_id) if batch_id else None
        run = interactive(client, model, QUESTIONS[i % len(QUESTIONS)], max_tokens)
        after = get_batch(client, batch_id) if batch_id else None
        if before is not None and after is not None:
            run.update(before=before["request_counts"], after=after["request_counts"],
                       under_batch=before["status"] == after["status"] == "in_progress")
        runs.append(run)
        print(f"  {i + 1:2d}: ttft {run['ttft'] * 1000:7.1f} ms, total {run['total']:.2f} s"
              + (f"  batch {fmt_counts(after)}" if after else ""), flush=True)
        time.sleep(max(0.0, gap - (time.monotonic() - start)))
    return runs


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--parallel", type=int, default=4, help="openmini serve --parallel")
    p.add_argument("--live-slots", type=int, default=None,
                   help="OPENMINI_LIVE_SLOTS for the server (default: the server's default)")
    p.add_argument("--batch-lines", type=int, default=500)
    p.add_argument("--batch-max-tokens", type=int, default=32, help="max_tokens of batch lines")
    p.add_argument("--interactive", type=int, default=15, help="requests per phase")
    p.add_argument("--max-tokens", type=int, default=16, help="of the interactive requests")
    p.add_argument("--gap", type=float, default=1.0, help="s between interactive requests")
    p.add_argument("--min-done", type=int, default=0,
                   help="batch lines done before measuring (default: --parallel)")
    p.add_argument("--finish", action="store_true",
                   help="then wait for the batch to complete and report its counts")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    a = p.parse_args()
    if a.quick:
        a.batch_lines, a.interactive = min(a.batch_lines, 60), min(a.interactive, 5)
    min_done = a.min_done or a.parallel
    env = {"OPENMINI_LIVE_SLOTS": str(a.live_slots)} if a.live_slots is not None else None

    root = Path(tempfile.mkdtemp(prefix="bench-batch-live-"))
    try:
        print(f"starting openmini serve --model {a.model} --parallel {a.parallel} --threads "
              f"{a.threads}" + (f" (OPENMINI_LIVE_SLOTS={a.live_slots})" if env else ""),
              flush=True)
        with serve(a.model, a.threads, a.parallel, root / "data", env) as server:
            client = sdk(server)
            model = served_model(server)
            interactive(client, model, "Hello!", 2)  # warm-up (not measured)
            print(f"idle server: {a.interactive} interactive requests", flush=True)
            idle = series(client, model, a.interactive, a.gap, a.max_tokens)
            lines = workload(a.batch_lines, model, a.batch_max_tokens)
            t_submit = time.monotonic()
            batch_id = submit(client, lines)
            start = wait_batch(client, batch_id, until=lambda b: b["status"] == "in_progress"
                               and b["request_counts"]["completed"] >= min_done)
            waited = time.monotonic() - t_submit
            print(f"batch {batch_id}: {fmt_counts(start)} after {waited:.1f} s; "
                  f"{a.interactive} interactive requests", flush=True)
            t0 = time.monotonic()
            busy = series(client, model, a.interactive, a.gap, a.max_tokens, batch_id)
            span = time.monotonic() - t0
            end = get_batch(client, batch_id)
            final = wait_batch(client, batch_id) if a.finish else None
    finally:
        shutil.rmtree(root, ignore_errors=True)

    under = [r for r in busy if r.get("under_batch")]
    idle_ttft = [r["ttft"] for r in idle]
    under_ttft = [r["ttft"] for r in under]
    all_ttft = [r["ttft"] for r in busy]
    done0 = start["request_counts"]["completed"] + start["request_counts"]["failed"]
    done1 = end["request_counts"]["completed"] + end["request_counts"]["failed"]
    print(f"\nmodel {a.model}, serve --parallel {a.parallel} --threads {a.threads}, live slots "
          f"{a.live_slots if a.live_slots is not None else 'default'}; interactive: "
          f"{a.interactive} streaming requests, max_tokens {a.max_tokens}, ~{a.gap:g} s apart; "
          f"batch: {a.batch_lines} lines, max_tokens {a.batch_max_tokens}")
    table("Interactive TTFT (ms)", ["phase", "requests", "p50", "p90", "max", "total p50 (s)"], [
        ["idle server", len(idle), median(idle_ttft) * 1000, pct(idle_ttft, 90) * 1000,
         max(idle_ttft) * 1000, median([r["total"] for r in idle])],
        ["under the batch", len(under), median(under_ttft) * 1000,
         pct(under_ttft, 90) * 1000 if under_ttft else float("nan"),
         max(under_ttft) * 1000 if under_ttft else float("nan"),
         median([r["total"] for r in under])],
        ["all of phase 2", len(busy), median(all_ttft) * 1000, pct(all_ttft, 90) * 1000,
         max(all_ttft) * 1000, median([r["total"] for r in busy])]])
    table("Batch progress during the measurement", ["figure", "value"], [
        ["batch at start of phase 2", fmt_counts(start)],
        ["batch at end of phase 2", fmt_counts(end)],
        ["lines done during phase 2", done1 - done0],
        ["batch lines/s during phase 2", ratio(done1 - done0, span)],
        ["phase 2 requests sent while it ran", f"{len(under)}/{len(busy)}"],
        *([["batch at the end (--finish)", fmt_counts(final)]] if final else [])])
    r = ratio(median(under_ttft), median(idle_ttft))
    table("Goal", ["figure", "value", "verdict"],
          [["TTFT p50 under the batch / idle", r, verdict(r, 1.5, False)]])
    if len(under) < len(busy):
        print(f"note: {len(busy) - len(under)} request(s) were sent after the batch left "
              "in_progress (a larger --batch-lines keeps it running through phase 2)")
    summary = {"ttft_idle_p50_ms": median(idle_ttft) * 1000,
               "ttft_batch_p50_ms": median(under_ttft) * 1000, "ratio": r,
               "under_batch": len(under), "measured": len(busy),
               "batch_start": start["request_counts"], "batch_end": end["request_counts"],
               "batch_lines_per_s": ratio(done1 - done0, span),
               "batch_final": final["request_counts"] if final else None,
               "parallel": a.parallel, "live_slots": a.live_slots}
    save("batch_live", a, {**summary, "idle": idle, "busy": busy})
    if a.json:
        print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
