"""Time to first token with a long shared prefix: cold vs cached, openmini vs llama.cpp's server.

Each round builds a fresh ~1,500-token system prompt of code (its first line is unique to
the round, so nothing is cached from earlier rounds) and sends two chat requests with it:
a first question (cold: the whole prompt is computed) and a different question (cached: only
the tail after the shared prefix should be). openmini runs in-process; the peer is
xllamacpp.Server (cache_prompt on) in a child process, driven by streaming httpx requests.

    .venv/bin/python bench/prefix_ttft.py --model fast --prefix-tokens 1500 --rounds 3
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

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

FUNC = '''
def {name}(items: list[int], limit: int = {k}) -> dict[str, int]:
    """Summarise `items` for report {i}: count, total and the values above {k}."""
    total, above = 0, 0
    for value in items[:limit * {m}]:
        total += value * {m}
        if value > {k}:
            above += 1
    return {{"count": len(items), "total": total, "above_{k}": above}}
'''
QUESTIONS = ["What does {f} return?", "Which argument of {f} has a default value?",
             "Explain the loop in {f} in one sentence.", "What is the return type of {f}?"]


def code_prefix(tag: str, target: int, count: Callable[[str], int]) -> tuple[str, list[str]]:
    head = (f"Session {tag}. You are a careful code reviewer. The repository below is the "
            "context for every question; answer briefly.\n```python")
    parts, names = [head], []
    while count("".join(parts)) < target:
        i = len(names)
        names.append(f"summarise_{tag[:4]}_{i}")
        parts.append(FUNC.format(name=names[-1], i=i, k=(i * 37) % 101, m=i % 7 + 1))
    return "".join(parts) + "```", names


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--prefix-tokens", type=int, default=1500, help="shared system prompt size")
    p.add_argument("--tokens", type=int, default=4, help="tokens generated per request")
    p.add_argument("--rounds", type=int, default=3, help="cold/cached pairs per engine")
    p.add_argument("--parallel", type=int, default=1, help="openmini --parallel / peer slots")
    p.add_argument("--no-peer", action="store_true", help="skip the xllamacpp server")
    a = p.parse_args()
    if a.quick:
        a.prefix_tokens, a.tokens, a.rounds = min(a.prefix_tokens, 200), min(a.tokens, 2), 1
    path = model_path(a.model)
    om = openmini(a.model, a.threads, parallel=a.parallel)
    tok = om.backend.model
    gen = dict(max_tokens=a.tokens, temperature=0.0, ignore_eos=True)
    peer = xserver(path, a.threads, a.parallel, a.parallel * (a.prefix_tokens + 512 + a.tokens)
                   ) if not a.no_peer else None
    client = httpx.AsyncClient(timeout=None)

    async def om_req(messages: list[dict[str, str]]) -> Run:
        return await om_run(om, messages, **gen)

    async def x_req(messages: list[dict[str, str]]) -> Run:
        url = f"{peer.url}/v1/chat/completions" if peer else ""
        return await sse_run(client, url, {"messages": messages, "cache_prompt": True, **gen})

    engines = {"openmini": om_req, **({"xllamacpp": x_req} if peer else {})}
    warm = [{"role": "user", "content": "Say hello."}]
    for fn in engines.values():
        await fn(warm)
    runs: dict[str, dict[str, list[Run]]] = {e: {"cold": [], "cached": []} for e in engines}
    n_prefix = 0
    try:
        for r in range(a.rounds):
            tag = uuid.uuid4().hex[:12]
            prefix, names = code_prefix(tag, a.prefix_tokens, lambda s: len(tok.tokenize(s)))
            n_prefix = len(tok.tokenize(prefix))
            asks = [QUESTIONS[(r + j) % len(QUESTIONS)].format(f=names[(r * 3 + j * 5)
                                                                         % len(names)])
                    for j in range(2)]
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            for name in order:
                for kind, ask in zip(("cold", "cached"), asks, strict=True):
                    msgs = [{"role": "system", "content": prefix}, {"role": "user", "content": ask}]
                    run = await engines[name](msgs)
                    if run.n_tokens != a.tokens:
                        raise SystemExit(f"{name} {kind}: {run.n_tokens} tokens, not {a.tokens}")
                    runs[name][kind].append(run)
                    print(f"round {r + 1} {name:9s} {kind:6s} TTFT {run.ttft * 1000:8.1f} ms  "
                          f"prompt {run.prompt_tokens} tokens, {run.cached_tokens} reused",
                          flush=True)
    finally:
        await om.close()
        await client.aclose()
        if peer:
            peer.stop()

    ttft = {e: {k: median([x.ttft * 1000 for x in v]) for k, v in kinds.items()}
            for e, kinds in runs.items()}
    reused = {e: median([x.cached_tokens for x in kinds["cached"]]) for e, kinds in runs.items()}
    rows = [[e, t["cold"], t["cached"], reused[e], ratio(t["cached"], t["cold"]),
             "AVX2-only wheel" if e == "xllamacpp" else ""] for e, t in ttft.items()]
    table(f"TTFT, {a.model}, {a.threads} threads, ~{n_prefix}-token shared prefix, "
          f"median of {a.rounds}", ["engine", "cold ms", "cached ms", "tokens reused",
                                    "cached/cold", "note"], rows)
    r_om = ratio(ttft["openmini"]["cached"], ttft["openmini"]["cold"])
    ratios = [["openmini cached / cold", r_om, verdict(r_om, 0.05, False)]]
    r_peer = None
    if "xllamacpp" in ttft:
        r_peer = ratio(ttft["openmini"]["cached"], ttft["xllamacpp"]["cached"])
        ratios += [["openmini cached / server cached", r_peer, verdict(r_peer, 1.0, False)],
                   ["openmini cold / server cold",
                    ratio(ttft["openmini"]["cold"], ttft["xllamacpp"]["cold"]), ""]]
    table("Ratios", ["ratio", "value", "verdict"], ratios)
    if r_peer is not None:
        print(f"note: {AVX2_NOTE}; prefill is where AVX-512 matters most")
    if reused["openmini"] < 0.9 * n_prefix:
        print(f"WARNING: openmini reused only {reused['openmini']} of {n_prefix} prefix tokens")
    save("prefix_ttft", a, {"prefix_tokens": n_prefix, "ttft_ms": ttft, "reused_tokens": reused,
                            "ratio_cached_cold": r_om, "ratio_vs_server_cached": r_peer,
                            "peer_note": AVX2_NOTE,
                            "runs": {e: {k: [(x.ttft, x.prompt_tokens, x.cached_tokens)
                                             for x in v] for k, v in kinds.items()}
                                     for e, kinds in runs.items()}})


if __name__ == "__main__":
    asyncio.run(main())
