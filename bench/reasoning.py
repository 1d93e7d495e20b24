"""Reasoning effort: accuracy, reasoning tokens and time per effort, on a small reasoning set.

Data: bench/data/reasoning.jsonl, the project's own: 20 multi-step arithmetic word problems
(integer answers) and 20 logic puzzles (ordering, seating, knights and knaves, who owns what,
days of the week; one word, name or number). Every item is asked through openmini's async
Python API (`AsyncOpenMini.chat`, no HTTP), up to --concurrency at once, greedy, the same
max_tokens at every effort, with the instruction to end with a line "Answer: <answer>".
Scoring (bench/reasoning_score.py): the last "Answer:" line, else the last "answer is ...",
else the last \\boxed{}, else the last number / word of the answer text (the reasoning text
is not read), normalised and compared with the expected answer.

Columns: accuracy overall and per kind (of the answer); how often the reasoning text itself
reaches the right answer (scored the same way, for what the thinking found but the reply
lost); mean reasoning tokens (`usage.reasoning_tokens`) and
mean completion tokens (`usage.completion_tokens`, as reported: OpenAI counts reasoning in
it); wall seconds for the whole set at that effort; replies with an "Answer:" line; replies
cut at max_tokens. Per-item results go to bench/results/reasoning-<models>.json.

    .venv/bin/python bench/reasoning.py                      # fast and default, every effort
    .venv/bin/python bench/reasoning.py --model fast --efforts none,high --limit 5 --verbose
    .venv/bin/python bench/reasoning.py --model tiny --efforts none,low --limit 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import RESULTS, machine, table
from reasoning_score import score

DATA = Path(__file__).resolve().parent / "data" / "reasoning.jsonl"
EFFORTS = ("none", "minimal", "low", "medium", "high")
KINDS = ("arithmetic", "logic")
INSTRUCTION = ('End your reply with a final line of the form "Answer: <answer>", where '
               "<answer> is only the final number or word, without units.")


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    kind: str
    question: str
    answer: str


@dataclass(slots=True)
class Result:
    model: str
    effort: str
    id: str
    kind: str
    expected: str
    extracted: str = ""
    via: str = ""
    correct: bool = False
    reasoning_correct: bool = False  # the reasoning text itself reaches the answer
    text: str = ""
    reasoning: str = ""
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str = ""
    seconds: float = 0.0
    error: str = ""


def load(kinds: list[str], limit: int | None) -> list[Item]:
    items = [Item(**json.loads(line)) for line in DATA.read_text().splitlines() if line.strip()]
    out: list[Item] = []
    for kind in kinds:
        out += [it for it in items if it.kind == kind][:limit]
    return out


def csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", default=None,
                   help="alias (default, fast, tiny) or a .gguf; repeatable (default: fast, "
                        "default)")
    p.add_argument("--efforts", type=csv, default=list(EFFORTS),
                   help="comma-separated reasoning efforts (default: all five)")
    p.add_argument("--kinds", type=csv, default=list(KINDS),
                   help="comma-separated item kinds (default: arithmetic,logic)")
    p.add_argument("--limit", type=int, default=None, help="first N items of each kind")
    p.add_argument("--concurrency", type=int, default=4,
                   help="requests at once, and the engine's parallel sequences")
    p.add_argument("--max-tokens", type=int, default=1536, help="max_tokens of every request")
    p.add_argument("--threads", type=int, default=0, help="engine threads (0 = every CPU)")
    p.add_argument("--verbose", action="store_true", help="print every item's result")
    a = p.parse_args()
    a.model = a.model or ["fast", "default"]
    if bad := [k for k in a.kinds if k not in KINDS]:
        p.error(f"unknown kind(s) {bad}; choose from {', '.join(KINDS)}")
    if bad := [e for e in a.efforts if e not in EFFORTS]:
        p.error(f"unknown effort(s) {bad}")
    return a


def prompt(item: Item) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{item.question}\n\n{INSTRUCTION}"}]


async def ask(om: Any, sem: asyncio.Semaphore, item: Item, model: str, effort: str,
              a: argparse.Namespace) -> Result:
    res = Result(model=model, effort=effort, id=item.id, kind=item.kind, expected=item.answer)
    kw: dict[str, Any] = {"reasoning_effort": effort}
    async with sem:
        t0 = time.perf_counter()
        try:
            c = await om.chat(prompt(item), max_tokens=a.max_tokens, temperature=0, **kw)
        except Exception as e:  # recorded and counted wrong; all failing stops the run
            res.error = f"{type(e).__name__}: {e}"
            return res
        res.seconds = time.perf_counter() - t0
    choice = c.choices[0]
    res.text, res.reasoning = c.text, getattr(choice, "reasoning", "") or ""
    res.finish_reason = str(choice.finish_reason or "")
    res.completion_tokens = c.usage.completion_tokens
    res.reasoning_tokens = getattr(c.usage, "reasoning_tokens", 0) or 0
    s = score(res.text, item.answer)
    res.extracted, res.via, res.correct = s.extracted, s.via, s.correct
    res.reasoning_correct = bool(res.reasoning) and score(res.reasoning, item.answer).correct
    return res


def show(item: Item, r: Result) -> None:
    mark = "ERR" if r.error else ("ok " if r.correct else "---")
    tail = " | ".join(ln.strip() for ln in r.text.strip().splitlines()[-2:])[-110:]
    print(f"  {mark} {r.id:9s} {item.question[:88]}{'...' if len(item.question) > 88 else ''}")
    print(f"      expected {r.expected!r}  extracted {r.extracted!r} ({r.via or '-'})  "
          f"{r.completion_tokens} tok ({r.reasoning_tokens} reasoning, {r.finish_reason})")
    print(f"      {'error: ' + r.error if r.error else 'tail: ' + tail}")


def frac(rs: list[Result]) -> str:
    k = sum(r.correct for r in rs)
    return f"{k}/{len(rs)} ({100 * k / len(rs):.0f}%)" if rs else "-"


def mean(xs: list[int]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def row(effort: str, rs: list[Result], wall: float, kinds: list[str]) -> list[Any]:
    done = [r for r in rs if not r.error]
    reached = sum(r.reasoning_correct for r in rs)
    return [effort, frac(rs), *(frac([r for r in rs if r.kind == k]) for k in kinds),
            f"{reached}/{len(rs)}",
            mean([r.reasoning_tokens for r in done]), mean([r.completion_tokens for r in done]),
            wall, f"{sum(r.via == 'answer-line' for r in done)}/{len(rs)}",
            sum(r.finish_reason == "length" for r in done), sum(bool(r.error) for r in rs)]


async def run_model(model: str, items: list[Item], a: argparse.Namespace) -> list[Result]:
    from openmini.api import AsyncOpenMini

    t0 = time.perf_counter()
    om = AsyncOpenMini(model=model, parallel=a.concurrency, threads=a.threads)
    print(f"\n{model}: loaded in {time.perf_counter() - t0:.1f} s ({om.model})", flush=True)
    sem = asyncio.Semaphore(a.concurrency)
    results: list[Result] = []
    rows: list[list[Any]] = []
    try:
        for effort in a.efforts:
            t0 = time.perf_counter()
            rs = await asyncio.gather(*(ask(om, sem, it, model, effort, a) for it in items))
            wall = time.perf_counter() - t0
            if all(r.error for r in rs):
                raise SystemExit(f"{model} effort {effort}: every request failed: "
                                 f"{rs[0].error}")
            print(f"{model} effort {effort}: {frac(rs)} in {wall:.1f} s", flush=True)
            if a.verbose:
                for it, r in zip(items, rs, strict=True):
                    show(it, r)
            results += rs
            rows.append(row(effort, rs, wall, a.kinds))
    finally:
        await om.close()
    table(f"Reasoning effort, {model}, {len(items)} items, max_tokens {a.max_tokens}, "
          f"concurrency {a.concurrency}, greedy",
          ["effort", "accuracy", *a.kinds, "reasoning reaches it", "mean reasoning tok",
           "mean completion tok", "wall s", "Answer: line", "hit max_tokens", "errors"], rows)
    return results


async def main() -> None:
    a = parse_args()
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    print(f"$ {command}")
    items = load(a.kinds, a.limit)
    print(f"{len(items)} items ({', '.join(a.kinds)}), models {', '.join(a.model)}, "
          f"efforts {', '.join(a.efforts)}", flush=True)
    results: list[Result] = []
    for model in a.model:
        results += await run_model(model, items, a)
    RESULTS.mkdir(parents=True, exist_ok=True)  # gitignored
    stems = "+".join(Path(m).stem if m.endswith(".gguf") else m for m in a.model)
    out = RESULTS / f"reasoning-{stems}{'-limit' + str(a.limit) if a.limit else ''}.json"
    body = {"benchmark": "reasoning", "command": command, "args": vars(a),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(),
            "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(body, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
