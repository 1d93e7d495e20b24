"""`model: "auto"` on a mixed workload: accuracy and latency against always-default/-fast.

Goal: `auto` reaches at least 97% of always-`default`'s accuracy at no more than 60% of its
mean latency. One run measures three modes side by side, through the real pipeline and a
real Router over both local models (`fast`, `default`), loaded once and shared, in-process
(`AsyncOpenMini(backend=router)`, no HTTP); each request names `model` = auto / default /
fast; the route the router took (`request.route`: deployment, reason `auto:<rule>`) is kept.

    .venv/bin/python bench/auto_route.py            # 20 chat, 20 tools, 15 schema, 10 reasoning
    .venv/bin/python bench/auto_route.py --quick    # 2 per kind: a smoke test, not figures
    .venv/bin/python bench/auto_route.py --limit-per-kind 5 --kinds chat,tools --show

Workload (bench/auto_route_data.py says more):
- chat: bench/data/easy_chat.jsonl, short questions with one checkable answer; scored by a
  normalised match (bench/reasoning_score.py's normalisation, extraction and comparison).
- tools: BFCL simple + multiple (cases 0.., the held-out split), tool_choice auto; BFCL's AST
  checker (bench/bfcl_check.py).
- schema: JSONSchemaBench, round-robin over subsets, schemas of <= --max-schema-chars that
  openmini compiles, as `response_format` json_schema; right when the output finished by
  itself (finish_reason stop, not cut at max_tokens) and validates (jsonschema, formats).
- reasoning: bench/data/reasoning.jsonl (arithmetic, logic) with `reasoning_effort`
  (--effort, medium) as a client wanting reasoning asks; bench/reasoning_score.py.

Method: greedy (temperature 0), the same max_tokens per kind in every mode (chat 48, tools
256, schema 256, reasoning 1024; --quick caps reasoning at 512). Items run one at a time,
kinds interleaved; each item in all three modes before the next (machine drift hits every
mode alike), the modes' order rotating per item. Latency: wall time from submitting the
request to its last event. Before each request every engine's prefix cache and compiled
grammars are emptied (`forget`, engines idle; --keep-caches to skip it): each request starts
as a new client's would, and no mode gains from another having run the same item (auto
shares a model with whichever mode it picked), while the prefix cache still serves within a
request as in serving (the tool relevance probe's prompt is the answer's prefix). Each model
is warmed up (grammar compiler, tools, schema, reasoning) before the timed run.
BFCL simple/multiple offer 1-3 tools: the `tools` rule (4 or more) never fires on this
workload. Verdicts print PASS / MISS (common.verdict). The full run takes about 30-40 min on
2 busy cores (--quick: about 6 min).
Per-item results: bench/results/auto_route-fast+default[-quick].json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from auto_route_data import KINDS, MAX_TOKENS, SIZES, Item, judge, round_robin, workload
from common import machine, ratio, save, table, verdict

MODES = ("auto", "default", "fast")
ACC_TARGET, LATENCY_TARGET = 0.97, 0.60
WARM_TOOL = {"type": "function", "function": {
    "name": "get_time", "description": "The current time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


@dataclass(slots=True)
class Result:
    kind: str
    id: str
    mode: str
    position: int  # 0..2: where this mode ran among the three for this item
    correct: bool = False
    latency: float = float("nan")
    deployment: str = ""  # where the router sent it
    reason: str = ""  # primary, auto:<rule>
    finish: str = ""
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the prefix cache served (within the request)
    detail: str = ""
    error: str = ""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit-per-kind", type=int, default=None,
                   help="N items of every kind (default: " +
                        ", ".join(f"{v} {k}" for k, v in SIZES.items()) + ")")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to run")
    p.add_argument("--quick", action="store_true", help="2 per kind: a smoke test, not figures")
    p.add_argument("--threads", type=int, default=2, help="CPU threads of each engine")
    p.add_argument("--ctx-size", type=int, default=8192, help="context per sequence")
    p.add_argument("--prefix-cache-tokens", type=int, default=8192,
                   help="each engine's prefix cache (emptied before every request)")
    p.add_argument("--keep-caches", action="store_true",
                   help="do not empty prefix caches and compiled grammars between requests")
    p.add_argument("--max-schema-chars", type=int, default=4000,
                   help="schema items: JSON schemas of at most this many characters")
    p.add_argument("--effort", default="medium", help="reasoning items' reasoning_effort")
    p.add_argument("--max-tokens", default="",
                   help="KIND=N,... overrides of max_tokens per kind (every mode)")
    p.add_argument("--show", action="store_true", help="print every request's outcome")
    p.set_defaults(model="fast+default")  # for common.save's file name
    a = p.parse_args()
    a.kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    if bad := [k for k in a.kinds if k not in KINDS]:
        p.error(f"unknown kind(s) {bad}; choose from {', '.join(KINDS)}")
    n = 2 if a.quick and a.limit_per_kind is None else a.limit_per_kind
    a.sizes = {k: (SIZES[k] if n is None else n) for k in a.kinds}
    a.max_tokens_per_kind = dict(MAX_TOKENS, reasoning=512) if a.quick else dict(MAX_TOKENS)
    for pair in filter(None, a.max_tokens.split(",")):
        kind, _, value = pair.partition("=")
        if kind.strip() not in KINDS or not value.strip().isdigit():
            p.error(f"--max-tokens: {pair!r} is not KIND=N")
        a.max_tokens_per_kind[kind.strip()] = int(value)
    return a


# --- running ------------------------------------------------------------------------------

async def stamped(events: AsyncIterator[Any], last: list[float]) -> AsyncIterator[Any]:
    """The events, with the time of the latest one kept in last[0]."""
    async for event in events:
        last[0] = time.perf_counter()
        yield event


async def forget(backends: list[Any]) -> None:
    """Empty each engine's prefix cache and each compiled-grammar cache. Only between
    requests: the engines are idle (a request's cache entry is made before its Done)."""
    await asyncio.sleep(0.02)  # the engine thread parks after emitting the last event
    for backend in backends:
        engine = backend.engine
        assert not engine.scheduler.running, "forget() with a request in flight"
        while (seq_id := engine.cache.evict_lru()) is not None:
            engine.scheduler.pool.release(seq_id)
        compiler = backend.compiler()
        with compiler._lock:
            compiler._cache.clear()


async def run_one(om: Any, item: Item, mode: str, position: int, a: argparse.Namespace
                  ) -> Result:
    from openmini.pipeline import collect

    res = Result(item.kind, item.id, mode, position)
    request = replace(om.request(item.messages, max_tokens=a.max_tokens_per_kind[item.kind],
                                 temperature=0.0, **item.request), model=mode)
    if not a.keep_caches:
        await forget(om.pipeline.router.backends)
    t0 = time.perf_counter()
    last = [t0]
    try:
        completion = await collect(stamped(om.events(request), last), request.n)
        res.latency = last[0] - t0
        res.correct, res.detail = judge(item, completion)
        res.finish = str(completion.choices[0].finish_reason or "")
        res.completion_tokens = completion.usage.completion_tokens
        res.cached_tokens = completion.usage.cached_tokens
    except Exception as exc:  # counted wrong, its time kept; listed at the end
        res.latency = time.perf_counter() - t0
        res.error = f"{type(exc).__name__}: {exc}"[:300]
    res.deployment, res.reason = request.route.deployment, request.route.reason
    return res


async def warm_up(om: Any, backends: list[Any]) -> None:
    """One-time costs out of the timings: grammar compilers, tool masks, thinking format."""
    for backend in backends:
        backend.compiler()
    hi = [{"role": "user", "content": "What time is it in Paris?"}]
    for model in ("fast", "default"):
        for kw in ({}, {"tools": [WARM_TOOL]}, {"response_format": {"type": "json_object"}},
                   {"reasoning_effort": "low"}):
            req = replace(om.request(hi, max_tokens=16, temperature=0.0, **kw), model=model)
            async for _ in om.events(req):
                pass


# --- report -------------------------------------------------------------------------------

def accuracy(rs: list[Result]) -> float:
    return ratio(sum(r.correct for r in rs), len(rs))


def mean_latency(rs: list[Result]) -> float:
    return statistics.fmean(r.latency for r in rs) if rs else float("nan")


def report(results: list[Result], kinds: list[str]) -> dict[str, Any]:
    by: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        by[r.kind, r.mode].append(r)
        by["all", r.mode].append(r)
    rows, summary = [], {}
    for kind in [*kinds, "all"]:
        rs = {m: by[kind, m] for m in MODES}
        if not rs["auto"]:
            continue
        acc = {m: accuracy(rs[m]) for m in MODES}
        lat = {m: mean_latency(rs[m]) for m in MODES}
        to_default = ratio(sum(r.deployment == "default" for r in rs["auto"]), len(rs["auto"]))
        summary[kind] = {"items": len(rs["auto"]), "accuracy": acc, "mean_latency_s": lat,
                         "auto_to_default": to_default}
        rows.append([kind, len(rs["auto"]), *(f"{100 * acc[m]:.0f}%" for m in MODES),
                     *(lat[m] for m in MODES), f"{100 * to_default:.0f}%",
                     ratio(acc["auto"], acc["default"]), ratio(lat["auto"], lat["default"])])
    table("Accuracy and mean latency per kind (greedy, sequential, modes interleaved)",
          ["kind", "items", *(f"acc {m}" for m in MODES), *(f"lat {m} s" for m in MODES),
           "auto->default", "acc auto/default", "lat auto/default"], rows)
    total = summary["all"]
    acc_r = ratio(total["accuracy"]["auto"], total["accuracy"]["default"])
    lat_r = ratio(total["mean_latency_s"]["auto"], total["mean_latency_s"]["default"])
    table("auto against always-default, whole workload", ["measure", "auto", "default",
                                                           "auto / default", "verdict"],
          [["accuracy", total["accuracy"]["auto"], total["accuracy"]["default"], acc_r,
            verdict(acc_r, ACC_TARGET, True)],
           ["mean latency (s)", total["mean_latency_s"]["auto"],
            total["mean_latency_s"]["default"], lat_r, verdict(lat_r, LATENCY_TARGET, False)]])
    summary["ratios"] = {"accuracy": acc_r, "latency": lat_r}

    same = {(r.kind, r.id, r.mode): r for r in results}
    routes: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
    for r in by["all", "auto"]:
        routes[r.kind, r.reason, r.deployment].append(r)
    route_rows = []
    for (kind, reason, dep), rs in sorted(routes.items(), key=lambda kv: kinds.index(kv[0][0])):
        other = {m: [same[r.kind, r.id, m] for r in rs] for m in ("default", "fast")}
        route_rows.append([kind, reason, dep, len(rs), f"{100 * accuracy(rs):.0f}%",
                           f"{100 * accuracy(other['default']):.0f}%",
                           f"{100 * accuracy(other['fast']):.0f}%", mean_latency(rs),
                           mean_latency(other["default"])])
    table("Where auto sent each kind, by rule (accuracy of the same items in each mode)",
          ["kind", "reason", "sent to", "items", "acc auto", "acc default", "acc fast",
           "lat auto s", "lat default s"], route_rows)
    table("Requests that failed or hit max_tokens", ["mode", "errors", "hit max_tokens",
                                                     "mean completion tokens"],
          [[m, sum(bool(r.error) for r in by["all", m]),
            sum(r.finish == "length" for r in by["all", m]),
            statistics.fmean(r.completion_tokens for r in by["all", m])] for m in MODES])
    for r in results:
        if r.error:
            print(f"ERROR {r.kind} {r.id} {r.mode}: {r.error}")
    return summary


# --- main ---------------------------------------------------------------------------------

async def main() -> None:
    a = parse_args()
    from openmini.api import AsyncOpenMini
    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig
    from openmini.router import Router

    t0 = time.perf_counter()
    backends = [LocalBackend(EngineConfig(model=m, threads=a.threads, parallel=1,
                                          ctx_size=a.ctx_size,
                                          prefix_cache_tokens=a.prefix_cache_tokens))
                for m in ("fast", "default")]
    router = Router(backends)
    if "auto" not in router.model_ids():
        raise SystemExit(f"the router lists no 'auto': {router.model_ids()}")
    om = AsyncOpenMini(backend=router)  # type: ignore[arg-type]  # a Router serves as one
    try:
        print(f"loaded {', '.join(router.model_ids())} in {time.perf_counter() - t0:.1f} s; "
              f"load average {machine()['loadavg']}", flush=True)
        await warm_up(om, backends)
        per_kind = workload(a.sizes, backends[1], a.max_schema_chars, a.effort)
        print("items: " + ", ".join(f"{len(v)} {k}" for k, v in per_kind.items()) +
              f"; max_tokens {a.max_tokens_per_kind}; ready in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        items = list(round_robin(per_kind.values()))
        results: list[Result] = []
        t1 = time.perf_counter()
        for i, item in enumerate(items):
            order = MODES[i % 3:] + MODES[:i % 3]
            got = {m: await run_one(om, item, m, k, a) for k, m in enumerate(order)}
            results += got.values()
            marks = "  ".join(f"{m} {'ok' if got[m].correct else '--'} {got[m].latency:5.1f}s"
                              for m in MODES)
            print(f"[{i + 1}/{len(items)}] {item.kind:9s} {item.id[:34]:34s} auto->"
                  f"{got['auto'].deployment} ({got['auto'].reason})  {marks}", flush=True)
            if a.show:
                for m in MODES:
                    print(f"    {m}: {got[m].error or got[m].detail} "
                          f"({got[m].completion_tokens} tok, {got[m].cached_tokens} cached)")
        wall = time.perf_counter() - t1
    finally:
        await om.close()
    print(f"\n{len(items)} items x {len(MODES)} modes in {wall:.0f} s; load average "
          f"{machine()['loadavg']}")
    summary = report(results, [k for k in KINDS if k in per_kind])
    save("auto_route", a, {"summary": summary, "wall_s": wall,
                           "items": {k: [it.id for it in v] for k, v in per_kind.items()},
                           "results": [asdict(r) for r in results]})


if __name__ == "__main__":
    asyncio.run(main())
