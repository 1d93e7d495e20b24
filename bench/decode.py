"""Single-stream decode tok/s: openmini's engine (in-process) vs llama-cpp-python's `Llama`.

Same GGUF, same threads, same prompt tokens, greedy, exactly N tokens (EOS ignored). Runs
alternate between the two (order flipped every round) after one warm-up each. The verdict is
on the median of the per-round ratios (each round's openmini run against the `Llama` run
next to it in time): this machine's speed drifts by +-15% from minute to minute, and a
paired ratio cancels the drift that a ratio of two medians keeps. Both are printed, with
the median decode rate (tokens after the first / time after the first) of each engine.

    .venv/bin/python bench/decode.py --model fast --tokens 256 --rounds 5
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from common import Run, median, model_path, om_run, openmini, parser, ratio, save, table, verdict

PROMPT = ("Write a long, detailed tutorial on implementing a hash map in C, with code for "
          "insertion, lookup, deletion, resizing and iteration, and explain each design choice.")


def llama_peer(path: str, threads: int, n_ctx: int, flash_attn: bool) -> Any:
    from llama_cpp import Llama

    return Llama(path, n_threads=threads, n_threads_batch=threads, n_ctx=n_ctx, n_batch=512,
                 flash_attn=flash_attn, verbose=False)


def llama_run(llm: Any, prompt_tokens: list[int], n: int) -> Run:
    run = Run(prompt_tokens=len(prompt_tokens))
    t0 = time.perf_counter()
    for tok in llm.generate(prompt_tokens, temp=0.0, top_k=1, top_p=1.0, min_p=0.0):
        if not run.tokens:
            run.ttft = time.perf_counter() - t0
        run.tokens.append(int(tok))  # generate() never stops at EOS: N tokens exactly
        if len(run.tokens) >= n:
            break
    run.total = time.perf_counter() - t0
    run.n_tokens = len(run.tokens)
    return run


def first_divergence(a: list[int], b: list[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=256, help="tokens generated per run")
    p.add_argument("--rounds", type=int, default=5, help="measured runs of each engine")
    p.add_argument("--llama-flash-attn", choices=("on", "off"), default="on",
                   help="Llama's flash attention; 'on' matches openmini (llama.cpp auto = on "
                        "on CPU), 'off' is Llama()'s own default")
    p.add_argument("--fill-cache", action="store_true",
                   help="first fill openmini's prefix cache with unrelated prompts (a server's "
                        "steady state: cached cells widen the KV range every decode attends)")
    p.add_argument("--prefix-cache-tokens", type=int, default=None,
                   help="openmini's prefix cache budget (default: the engine's)")
    p.add_argument("--flash-attn", choices=("auto", "on", "off"), default=None,
                   help="openmini's flash attention (default: the engine's)")
    a = p.parse_args()
    if a.quick:
        a.tokens, a.rounds = min(a.tokens, 8), min(a.rounds, 2)
    path = model_path(a.model)
    extra: dict[str, Any] = {}
    if a.prefix_cache_tokens is not None:
        extra["prefix_cache_tokens"] = a.prefix_cache_tokens
    if a.flash_attn is not None:
        extra["flash_attn"] = a.flash_attn
    om = openmini(a.model, a.threads, parallel=1, **extra)
    prompt = om.backend.prompt_tokens(om.request(prompt=PROMPT))
    llm = llama_peer(path, a.threads, len(prompt) + a.tokens + 64, a.llama_flash_attn == "on")
    assert llm.tokenize(PROMPT.encode(), add_bos=True, special=True) == prompt, "tokens differ"
    gen = dict(prompt=PROMPT, max_tokens=a.tokens, temperature=0.0, ignore_eos=True)

    cache = om.backend.engine.cache
    for k in range(32 if a.fill_cache else 0):  # until the cache is ~3/4 full
        if cache.size_tokens >= 0.75 * cache.budget_tokens:
            break
        filler = " ".join(f"entry {k} line {i}" for i in range(200))
        await om_run(om, prompt=filler, max_tokens=1, temperature=0.0)
    print(f"openmini prefix cache: {len(cache.entries)} entries, {cache.size_tokens} tokens")
    await om_run(om, **{**gen, "max_tokens": min(8, a.tokens)})  # warm-up
    llama_run(llm, prompt, min(8, a.tokens))
    runs: dict[str, list[Run]] = {"openmini": [], "llama": []}
    for r in range(a.rounds):
        for name in ("openmini", "llama") if r % 2 == 0 else ("llama", "openmini"):
            run = await om_run(om, **gen) if name == "openmini" else llama_run(llm, prompt,
                                                                               a.tokens)
            if run.n_tokens != a.tokens:
                raise SystemExit(f"{name} produced {run.n_tokens} tokens, expected {a.tokens}")
            runs[name].append(run)
            print(f"round {r + 1} {name:8s} decode {run.decode_tps:7.2f} tok/s  "
                  f"ttft {run.ttft * 1000:7.1f} ms  total {run.total:6.2f} s", flush=True)
    await om.close()

    def summary(rs: list[Run]) -> dict[str, float]:
        return {"decode_tps": median([x.decode_tps for x in rs]),
                "e2e_tps": median([x.n_tokens / x.total for x in rs]),
                "ttft_ms": median([x.ttft * 1000 for x in rs])}

    s_om, s_ll = summary(runs["openmini"]), summary(runs["llama"])
    r_dec = ratio(s_om["decode_tps"], s_ll["decode_tps"])
    paired = [o.decode_tps / ll.decode_tps for o, ll in zip(runs["openmini"], runs["llama"],
                                                              strict=True)]
    r_pair = median(paired)
    same = first_divergence(runs["openmini"][0].tokens, runs["llama"][0].tokens)
    table(f"Single-stream decode, {a.model}, {a.threads} threads, {len(prompt)} prompt tokens, "
          f"{a.tokens} generated, median of {a.rounds}",
          ["engine", "decode tok/s", "end-to-end tok/s", "TTFT ms (prompt reused)"],
          [["openmini (in-process)", s_om["decode_tps"], s_om["e2e_tps"], s_om["ttft_ms"]],
           [f"llama-cpp-python Llama (fa {a.llama_flash_attn})", s_ll["decode_tps"],
            s_ll["e2e_tps"], s_ll["ttft_ms"]]])
    table("Ratios", ["ratio", "value", "verdict"],
          [["openmini / Llama decode, median of per-round ratios", r_pair,
            verdict(r_pair, 0.97, True)],
           ["openmini / Llama decode, ratio of medians", r_dec, ""],
           ["openmini / Llama end-to-end", ratio(s_om["e2e_tps"], s_ll["e2e_tps"]), ""]])
    print(f"greedy outputs agree on the first {same} of {a.tokens} tokens")
    save("decode-filled" if a.fill_cache else "decode", a, {
        "prompt_tokens": len(prompt), "openmini": s_om, "llama": s_ll, "ratio_decode": r_dec,
        "ratio_decode_paired": r_pair, "paired_ratios": paired,
        "openmini_cache_tokens": cache.size_tokens, "greedy_agreement_tokens": same,
        "runs": {k: [(x.decode_tps, x.ttft, x.total) for x in v] for k, v in runs.items()}})


if __name__ == "__main__":
    asyncio.run(main())
