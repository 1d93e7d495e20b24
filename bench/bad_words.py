"""bad_words: occurrences of phrases the model writes unasked, with and without banning them,
and what the backtracking costs in tok/s (openmini's engine, in-process).

Each prompt comes with phrases a model naturally produces for it. Every round runs each prompt
three ways, greedy and exactly N kept tokens (EOS ignored): without bad_words ("off"), with its
phrases banned ("on"), and with phrases that never occur ("idle": the cost of matching and
holding text back alone). tok/s = kept tokens / wall time, backtracked tokens included in the
time. Occurrences are counted case-insensitively on the output text; with bad_words they must
be zero. ("off" and "idle" texts can differ a little: greedy decoding over a prefix reused from
differently laid-out KV cells is not bit-exact, with or without bad_words.)

    .venv/bin/python bench/bad_words.py --model fast --tokens 128 --rounds 3
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from common import median, om_run, openmini, parser, ratio, save, table, verdict

PROMPTS: list[tuple[str, tuple[str, ...]]] = [
    ("Tell me about cats.", ("cat", "feline")),
    ("Describe the sea in two sentences.", ("sea", "ocean")),
    ("Name three colours.", ("red", "blue", "colour")),
    ("What is the capital of France?", ("Paris", "France")),
    ("Write a short poem about rain.", ("rain", "gentle")),
    ("Explain what a CPU does.", ("CPU", "processor")),
]
VARIANTS = ("off", "on", "idle")


def idle_phrases(n: int) -> tuple[str, ...]:
    return tuple(f"zq{i:03d}xv" for i in range(n))


def occurrences(text: str, phrases: tuple[str, ...]) -> int:
    folded = text.casefold()
    return sum(folded.count(p.casefold()) for p in phrases)


async def one(om: Any, prompt: str, phrases: tuple[str, ...], variant: str, tokens: int,
              idle: int) -> dict[str, Any]:
    stats = om.backend.engine.stats
    banned = {"off": (), "on": phrases, "idle": idle_phrases(idle)}[variant]
    b0, t0 = stats.backtracks, stats.tokens_backtracked
    start = time.perf_counter()
    run = await om_run(om, [{"role": "user", "content": prompt}], max_tokens=tokens,
                       temperature=0.0, ignore_eos=True, bad_words=banned)
    wall = time.perf_counter() - start
    text = om.backend.model.detokenize(run.tokens)
    return {"tokens": run.n_tokens, "wall": wall, "hits": occurrences(text, phrases),
            "backtracks": stats.backtracks - b0, "dropped": stats.tokens_backtracked - t0,
            "finish_ok": run.n_tokens == tokens, "cached": run.cached_tokens, "text": text}


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=128, help="kept tokens per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--prompts", type=int, default=len(PROMPTS), help="how many of the prompts")
    p.add_argument("--idle-phrases", type=int, default=64,
                   help="never-occurring phrases in the 'idle' variant")
    a = p.parse_args()
    if a.quick:
        a.tokens, a.rounds, a.prompts = min(a.tokens, 16), 1, min(a.prompts, 2)
    om = openmini(a.model, a.threads, parallel=1)
    prompts = PROMPTS[: a.prompts]
    await om_run(om, [{"role": "user", "content": "Hi"}], max_tokens=4)  # warm-up
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for r in range(a.rounds):
        order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
        for prompt, phrases in prompts:
            for variant in order:
                res = await one(om, prompt, phrases, variant, a.tokens, a.idle_phrases)
                results[variant].append(res)
                print(f"round {r + 1} {variant:4s} {res['tokens'] / res['wall']:7.2f} tok/s  "
                      f"hits {res['hits']:2d}  backtracks {res['backtracks']:2d}  "
                      f"{prompt!r}", flush=True)
    await om.close()
    report(a, results)


def summary(runs: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    per_round = len(runs) // rounds
    tps = [sum(x["tokens"] for x in chunk) / sum(x["wall"] for x in chunk)
           for chunk in (runs[i * per_round:(i + 1) * per_round] for i in range(rounds))]
    return {"tok_s": median(tps), "hits": sum(x["hits"] for x in runs),
            "backtracks": sum(x["backtracks"] for x in runs),
            "dropped": sum(x["dropped"] for x in runs),
            "short_runs": sum(not x["finish_ok"] for x in runs)}


def report(a: Any, results: dict[str, list[dict[str, Any]]]) -> None:
    s = {v: summary(results[v], a.rounds) for v in VARIANTS}
    table(f"bad_words, {a.model}, {a.threads} threads, {a.tokens} kept tokens per run, "
          f"{len(results['off']) // a.rounds} prompts x {a.rounds} rounds",
          ["variant", "tok/s (median of rounds)", "occurrences", "backtracks",
           "tokens backtracked", "runs short of N"],
          [[v, s[v]["tok_s"], s[v]["hits"], s[v]["backtracks"], s[v]["dropped"],
            s[v]["short_runs"]] for v in VARIANTS])
    r_on, r_idle = ratio(s["on"]["tok_s"], s["off"]["tok_s"]), ratio(s["idle"]["tok_s"],
                                                                      s["off"]["tok_s"])
    table("Ratios", ["ratio", "value", "verdict"],
          [["occurrences with bad_words", float(s["on"]["hits"]),
            "PASS (zero)" if s["on"]["hits"] == 0 else "FAIL (must be zero)"],
           ["tok/s on / off", r_on, verdict(r_on, 0.8, True)],
           [f"tok/s idle ({a.idle_phrases} phrases) / off", r_idle, verdict(r_idle, 0.97, True)]])
    save("bad_words", a, {"summary": s, "ratio_on": r_on, "ratio_idle": r_idle,
                          "runs": results})


if __name__ == "__main__":
    asyncio.run(main())
