"""Concurrent streams: aggregate tok/s of openmini batching S streams vs the same S requests
one after another on openmini, vs llama.cpp's server (xllamacpp) with S slots.

Different prompts, greedy, EOS ignored, N tokens each; every run's token counts are checked.
openmini runs in-process (AsyncOpenMini, --parallel S); the peer is xllamacpp.Server in a
child process, driven by S concurrent streaming httpx requests to /v1/completions.

    .venv/bin/python bench/concurrency.py --model fast --streams 8 --tokens 256 --rounds 3
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from common import (
    AVX2_NOTE,
    Run,
    median,
    model_path,
    om_run,
    openmini,
    parser,
    ratio,
    save,
    sse_run,
    table,
    verdict,
    xserver,
)

TOPICS = ["a binary search tree in Rust", "the TCP three-way handshake", "photosynthesis",
          "a REST API for a todo list in Flask", "the causes of the French Revolution",
          "how a CPU cache works", "quicksort versus mergesort", "a bash script to rotate logs",
          "the rules of chess", "how vaccines train the immune system", "Dijkstra's algorithm",
          "a SQL schema for a library", "the water cycle", "Python decorators",
          "how HTTPS certificates are verified", "the history of the printing press"]


def prompts(k: int) -> list[str]:
    return [f"Explain {TOPICS[i % len(TOPICS)]} in detail, step by step. (#{i})"
            for i in range(k)]


async def timed(jobs: list[Callable[[], Awaitable[Run]]], concurrent: bool
                ) -> tuple[float, list[Run]]:
    t0 = time.perf_counter()
    if concurrent:
        runs = list(await asyncio.gather(*(job() for job in jobs)))
    else:
        runs = [await job() for job in jobs]
    return time.perf_counter() - t0, runs


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=8, help="concurrent streams (and slots)")
    p.add_argument("--tokens", type=int, default=256, help="tokens generated per stream")
    p.add_argument("--rounds", type=int, default=3, help="measured rounds of each mode")
    p.add_argument("--no-peer", action="store_true", help="skip the xllamacpp server")
    a = p.parse_args()
    if a.quick:
        a.streams, a.tokens, a.rounds = min(a.streams, 2), min(a.tokens, 8), 1
    path = model_path(a.model)
    texts = prompts(a.streams)
    om = openmini(a.model, a.threads, parallel=a.streams)
    n_prompt = max(len(om.backend.prompt_tokens(om.request(prompt=t))) for t in texts)
    gen = dict(temperature=0.0, ignore_eos=True)

    def om_jobs(n: int) -> list[Callable[[], Awaitable[Run]]]:
        return [lambda t=t: om_run(om, prompt=t, max_tokens=n, **gen) for t in texts]

    peer = xserver(path, a.threads, a.streams, a.streams * (n_prompt + a.tokens + 64)
                   ) if not a.no_peer else None
    client = httpx.AsyncClient(timeout=None)

    def x_jobs(n: int) -> list[Callable[[], Awaitable[Run]]]:
        url = f"{peer.url}/v1/completions" if peer else ""
        return [lambda t=t: sse_run(client, url, {"prompt": t, "cache_prompt": True,
                                                  "max_tokens": n, **gen}) for t in texts]

    Jobs = Callable[[int], list[Callable[[], Awaitable[Run]]]]
    modes: dict[str, tuple[Jobs, bool]] = {
        "openmini concurrent": (om_jobs, True), "openmini sequential": (om_jobs, False)}
    if peer:
        modes["xllamacpp concurrent"] = (x_jobs, True)
    for jobs, conc in modes.values():  # warm-up: a few tokens in every mode
        await timed(jobs(min(8, a.tokens)), conc)
    agg: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for r in range(a.rounds):
            order = list(modes) if r % 2 == 0 else list(reversed(modes))
            for mode in order:
                jobs, conc = modes[mode]
                wall, runs = await timed(jobs(a.tokens), conc)
                counts = [x.n_tokens for x in runs]
                if any(c != a.tokens for c in counts):
                    raise SystemExit(f"{mode}: token counts {counts}, expected {a.tokens} each")
                agg[mode].append(sum(counts) / wall)
                print(f"round {r + 1} {mode:22s} {agg[mode][-1]:7.2f} tok/s aggregate "
                      f"({sum(counts)} tokens in {wall:.2f} s)", flush=True)
    finally:
        await om.close()
        await client.aclose()
        if peer:
            peer.stop()

    med = {m: median(v) for m, v in agg.items()}
    rows = [[f"openmini, --parallel {a.streams}, concurrent", med["openmini concurrent"], ""],
            ["openmini, same requests one at a time", med["openmini sequential"], ""]]
    if "xllamacpp concurrent" in med:
        rows.append([f"llama.cpp server (xllamacpp), {a.streams} slots",
                     med["xllamacpp concurrent"], "AVX2-only wheel"])
    table(f"Aggregate decode, {a.model}, {a.threads} threads, {a.streams} streams x "
          f"{a.tokens} tokens, median of {a.rounds}", ["engine", "aggregate tok/s", "note"], rows)
    r_seq = ratio(med["openmini concurrent"], med["openmini sequential"])
    ratios = [["openmini concurrent / sequential", r_seq, verdict(r_seq, 1.8, True)]]
    r_peer = None
    if "xllamacpp concurrent" in med:
        r_peer = ratio(med["openmini concurrent"], med["xllamacpp concurrent"])
        ratios.append(["openmini / xllamacpp server", r_peer, verdict(r_peer, 1.1, True)])
    table("Ratios", ["ratio", "value", "verdict"], ratios)
    if r_peer is not None:
        print(f"note: {AVX2_NOTE}")
    save("concurrency", a, {"aggregate_tps": med, "rounds": agg, "ratio_vs_sequential": r_seq,
                            "ratio_vs_xllamacpp": r_peer, "peer_note": AVX2_NOTE})


if __name__ == "__main__":
    asyncio.run(main())
