"""BFCL multi-turn with BFCL's own harness (bfcl-eval): openmini vs llama.cpp's server, same GGUF.

bfcl-eval (the Berkeley Function Calling Leaderboard's package: its data, possible answers,
executable multi-turn APIs, handler and checkers) generates and scores against each arm's
OpenAI-compatible server in turn, and the table gives bfcl's own accuracy per category for both,
with the difference and the ratio:

- openmini: `openmini serve --model M --ctx-size C --parallel P --threads T`, native function
  calling (bfcl sends `tools` and no `tool_choice`: auto). Its prefix cache keeps at most
  `prefix_cache_tokens` (default 8192) tokens, and a prompt longer than that is never kept, so
  every step recomputes the whole history; `--prefix-cache-tokens N` sets
  OPENMINI_PREFIX_CACHE_TOKENS for the server (P x C matches what llama.cpp's slots keep).
  openmini's /metrics after generation (prefix-cache hit rate, tokens, statuses) are printed.
- llamacpp: llama.cpp's server from `xllamacpp` (the `bench` extra), the same GGUF, jinja chat
  template on (`use_jinja`), P slots of C cells each, T threads. xllamacpp's prebuilt wheel is
  AVX2-only (openmini's llama.cpp is built natively): same model, not the same kernels.

bfcl's side is its own, unchanged: `OpenAICompletionsHandler` in FC mode registered at run time
(bench/bfcl_harness.py), temperature 0.001, no max_tokens, `store: false`, the multi-turn tools
with their `response` schemas, up to 20 steps per turn. Every arm runs the same cases: the first
--limit ids of each category, written to bfcl's `test_case_ids_to_generate.json` (`--run-ids`);
bfcl scores them with `evaluate --partial-eval`. P requests at once (bfcl's --num-threads = the
server's --parallel). Outputs stay under bench/results/bfcl_multi/<model>/<arm>/ (bfcl's
BFCL_PROJECT_ROOT: result/, score/, bfcl.log). A request that fails (an HTTP 400, say) is bfcl's
"Error during inference" for that case, scored wrong; the errors are printed.

Categories: multi_turn_base, multi_turn_miss_func, multi_turn_miss_param,
multi_turn_long_context (the default set; prompts of 4-8k tokens, long_context more), and the
single-turn Python AST ones as a regression check: simple (bfcl's simple_python), multiple,
parallel, parallel_multiple, irrelevance.

Install bfcl-eval and only what its imports need (no torch), outside pyproject.toml:

    .venv/bin/pip install -e ".[dev,bench]"
    .venv/bin/pip install --no-deps -r bench/requirements-bfcl.txt

Run (2 cores: a multi-turn case takes minutes per arm; plan full runs accordingly):

    .venv/bin/python bench/bfcl_multi.py --model fast --limit 1 --categories multi_turn_base simple
    .venv/bin/python bench/bfcl_multi.py --model fast --limit 20 --parallel 2 \\
        --prefix-cache-tokens 32768
    .venv/bin/python bench/bfcl_multi.py --model default --limit 20 --prefix-cache-tokens 32768 \\
        --categories multi_turn_base multi_turn_miss_func multi_turn_miss_param \\
        multi_turn_long_context simple multiple parallel parallel_multiple irrelevance
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

import bfcl_harness as h
from common import (
    AVX2_NOTE,
    RESULTS,
    Server,
    model_id,
    model_path,
    openmini_server,
    parser,
    ratio,
    save,
    table,
)

MULTI_TURN = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
              "multi_turn_long_context"]
SINGLE_TURN = ["simple", "multiple", "parallel", "parallel_multiple", "irrelevance"]
ARMS = ("openmini", "llamacpp")
LABEL = {"openmini": "openmini", "llamacpp": "llama.cpp server*"}
OPENMINI_CMD = ("{python} -m openmini.cli.main serve --model {model} --port {port} "
                "--threads {threads} --parallel {parallel} --ctx-size ")


def args() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--categories", nargs="+", default=MULTI_TURN,
                   choices=MULTI_TURN + SINGLE_TURN, help="bfcl categories (simple: simple_python)")
    p.add_argument("--limit", type=int, default=10, help="first N ids of each category")
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--parallel", type=int, default=2, help="server sequences = bfcl threads")
    p.add_argument("--ctx-size", type=int, default=16384, help="context per sequence")
    p.add_argument("--prefix-cache-tokens", type=int, default=None,
                   help="openmini's prefix_cache_tokens (OPENMINI_PREFIX_CACHE_TOKENS; default: "
                        "openmini's own, 4096: a longer prompt is not kept)")
    p.add_argument("--server-cmd", default=None,
                   help="override the openmini server command ({model} {port} {threads} "
                        "{parallel} {python} filled in)")
    p.add_argument("--root", type=Path, default=None,
                   help="bfcl's outputs (default bench/results/bfcl_multi/<model>)")
    a = p.parse_args()
    if a.quick:
        a.limit = 1
    a.categories = [h.category_name(c) for c in a.categories]
    return a


def start(arm: str, a: argparse.Namespace) -> Server:
    if arm == "llamacpp":
        return h.llamacpp_server(model_path(a.model), a.threads, a.parallel, a.ctx_size)
    cmd = a.server_cmd or OPENMINI_CMD + str(a.ctx_size)
    if a.prefix_cache_tokens is not None:
        cmd = f"env OPENMINI_PREFIX_CACHE_TOKENS={a.prefix_cache_tokens} {cmd}"
    return openmini_server(a.model, a.threads, a.parallel, cmd=cmd)


def openmini_stats(url: str) -> dict[str, float]:
    """openmini's own counters after generation: prefix-cache hit rate, tokens, statuses."""
    keep = ("openmini_prefix_cache_hit_rate", "openmini_prompt_tokens_total",
            "openmini_completion_tokens_total",
            'openmini_requests_total{endpoint="/v1/chat/completions"')
    try:
        text = httpx.get(url + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    return {name: float(value) for name, _, value in
            (line.rpartition(" ") for line in text.splitlines() if line.startswith(keep))}


def run_arm(arm: str, a: argparse.Namespace, ids: dict[str, list[str]], root: Path
            ) -> dict[str, Any]:
    """Generate with the arm's server up, stop it, score with bfcl: per-category figures."""
    shutil.rmtree(root, ignore_errors=True)  # bfcl would keep (and skip) earlier results
    h.write_ids(root, ids)
    registry, log = h.registry_name(arm, a.model), root / "bfcl.log"
    t0 = time.perf_counter()
    with start(arm, a) as server:
        load_s = time.perf_counter() - t0
        served = model_id(server)
        print(f"{arm}: up in {load_s:.1f} s at {server.url}, serving {served!r}; bfcl log {log}",
              flush=True)
        gen_s = h.generate(root, registry, served, server.url + "/v1", a.parallel, log)
        stats = openmini_stats(server.url) if arm == "openmini" else {}
    h.evaluate(root, registry, served, a.categories, log)
    out: dict[str, Any] = {"registry": registry, "served_model": served, "root": str(root),
                           "server_start_s": load_s, "generate_s": gen_s, "server_stats": stats,
                           "categories": {}}
    for cat in a.categories:
        cs = h.cases(root, registry, cat)
        out["categories"][cat] = {"score": h.score(root, registry, cat),
                                  "cases": [asdict(c) for c in cs]}
    n = sum(len(v["cases"]) for v in out["categories"].values())
    print(f"{arm}: {n} cases generated in {gen_s:.1f} s ({ratio(gen_s, n):.1f} s/case wall, "
          f"{a.parallel} at once)", flush=True)
    return out


# --- report -------------------------------------------------------------------------------

def accuracy(arm: dict[str, Any] | None, cat: str) -> float:
    s = ((arm or {}).get("categories", {}).get(cat) or {}).get("score")
    return float(s["accuracy"]) if s else float("nan")


def n_cases(runs: dict[str, dict[str, Any]], cat: str) -> str:
    counts = {len(r["categories"][cat]["cases"]) for r in runs.values()}
    return "/".join(str(c) for c in sorted(counts))


def accuracy_rows(runs: dict[str, dict[str, Any]], cats: list[str]) -> list[list[Any]]:
    rows = []
    for cat in cats:
        om, lc = accuracy(runs.get("openmini"), cat), accuracy(runs.get("llamacpp"), cat)
        rows.append([cat, n_cases(runs, cat), om, lc, (om - lc) * 100, ratio(om, lc)])
    return rows


def timing_rows(runs: dict[str, dict[str, Any]], cats: list[str]) -> list[list[Any]]:
    rows = []
    for arm, run in runs.items():
        for cat in cats:
            cs = run["categories"][cat]["cases"]
            secs = [c["seconds"] for c in cs if not c["error"]]
            rows.append([LABEL[arm], cat, len(cs), _median(secs),
                         _median([c["requests"] for c in cs]),
                         _median([c["prompt_tokens"] for c in cs]),
                         _median([c["completion_tokens"] for c in cs]),
                         sum(bool(c["error"]) for c in cs)])
    return rows


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def errors(runs: dict[str, dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((arm, c["error"][:400]) for arm, run in runs.items()
                   for v in run["categories"].values() for c in v["cases"] if c["error"])


def report(a: argparse.Namespace, runs: dict[str, dict[str, Any]]) -> None:
    title = (f"bfcl-eval {h.version()} accuracy (its own checker), --model {a.model}, first "
             f"{a.limit} ids per category, --parallel {a.parallel}, ctx {a.ctx_size}/sequence")
    table(title, ["category", "cases", "openmini", "llama.cpp server*", "diff (pts)",
                  "ratio"], accuracy_rows(runs, a.categories))
    table("Per case (bfcl's request latencies added up; errored cases left out of the time)",
          ["arm", "category", "cases", "s/case", "requests", "max prompt tok", "out tok",
           "errors"], timing_rows(runs, a.categories))
    for arm, run in runs.items():
        print(f"{LABEL[arm]}: generation {run['generate_s']:.1f} s wall for all categories, "
              f"server start {run['server_start_s']:.1f} s")
        for name, value in run["server_stats"].items():
            print(f"  {name} {value:g}")
    for (arm, msg), k in errors(runs).most_common():
        print(f"ERROR {arm} x{k}: {msg}")
    print(f"* {AVX2_NOTE}")


def main() -> None:
    a = args()
    ids = {cat: h.case_ids(cat, a.limit) for cat in a.categories}
    root = a.root or RESULTS / "bfcl_multi" / a.model.replace("/", "_")
    print(f"bfcl-eval {h.version()}; categories available here: {', '.join(h.data_files())}")
    runs = {arm: run_arm(arm, a, ids, root / arm) for arm in a.arms}
    report(a, runs)
    save("bfcl_multi", a, {"bfcl_eval": h.version(), "ids": ids, "runs": runs,
                           "peer_note": AVX2_NOTE})


if __name__ == "__main__":
    main()
