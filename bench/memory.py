"""Server RSS over many short requests: does `openmini serve` keep a flat footprint?

The real server runs in a child process; this one sends a warm-up, then R short requests
(max_tokens 1..4, chat and text completions, some streamed, mostly distinct prompts so the
prefix cache keeps evicting, every third group of 8 sent concurrently) and reads the child's
VmRSS every 100 requests. "Flat" = the last sample is within 5% (or 8 MB) of the sample taken
right after the warm-up. The same workload runs against llama.cpp's server (xllamacpp) as peer.

    .venv/bin/python bench/memory.py --model fast --requests 1000
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from common import (
    AVX2_NOTE,
    Server,
    model_id,
    model_path,
    openmini_server,
    parser,
    post,
    ratio,
    rss_mb,
    save,
    sse_run,
    table,
    verdict,
    xserver,
)

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray"]
GROUP = 8


def request(i: int, model: str | None) -> tuple[str, dict[str, Any], bool]:
    """Request i: endpoint, body, streamed? Prompts vary in length and are mostly distinct."""
    words = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(4 + (i % 5) * 12))
    if i % 10 == 9:
        words = " ".join([words] * 8)  # a longer prompt now and then
    body: dict[str, Any] = {"max_tokens": 1 + i % 4, "temperature": 0.0 if i % 2 else 0.7,
                            "seed": i}
    if model:
        body["model"] = model
    if i % 3 == 2:
        body["prompt"] = f"Request {i}: continue the list: {words}"
        path = "/v1/completions"
    else:
        body["messages"] = [{"role": "user", "content": f"Request {i}. Repeat: {words}"}]
        path = "/v1/chat/completions"
    return path, body, i % 4 == 1


async def send(client: httpx.AsyncClient, url: str, i: int, model: str | None) -> bool:
    path, body, stream = request(i, model)
    try:
        if stream:
            await sse_run(client, url + path, body)
            return True
        return (await post(client, url + path, body)).status_code == 200
    except (httpx.HTTPError, RuntimeError):
        return False


async def workload(server: Server, model: str | None, warmup: int, n: int, every: int
                   ) -> tuple[list[tuple[int, float]], int]:
    """Returns [(requests done after warm-up, RSS MB)] and the number of failed requests."""
    samples, failed, done = [], 0, 0
    async with httpx.AsyncClient(timeout=600) as client:
        for phase, count in (("warmup", warmup), ("measure", n)):
            i = 0
            while i < count:
                k = min(GROUP, count - i)
                ids = range(done + i, done + i + k)
                if (i // GROUP) % 3 == 2:
                    oks = await asyncio.gather(*(send(client, server.url, j, model) for j in ids))
                else:
                    oks = [await send(client, server.url, j, model) for j in ids]
                failed += oks.count(False)
                i += k
                if phase == "measure" and (i // every > (i - k) // every or i == count):
                    samples.append((i, rss_mb(server.pid)))
                    print(f"  {server.name}: {i:5d} requests  RSS {samples[-1][1]:8.1f} MB",
                          flush=True)
            if phase == "warmup":
                samples.append((0, rss_mb(server.pid)))
                print(f"  {server.name}: after warm-up RSS {samples[0][1]:8.1f} MB", flush=True)
            done += count
    return samples, failed


def summarise(samples: list[tuple[int, float]], tol_pct: float, tol_mb: float
              ) -> dict[str, Any]:
    xs, ys = [float(x) for x, _ in samples], [y for _, y in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    first, last = ys[0], ys[-1]
    tol = max(first * tol_pct / 100, tol_mb)
    return {"after_warmup_mb": first, "last_mb": last, "max_mb": max(ys),
            "growth_mb": last - first, "growth_pct": 100 * (last - first) / first,
            "slope_mb_per_1000": slope * 1000, "flat": abs(last - first) <= tol,
            "tolerance_mb": tol, "samples": samples}


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=1000, help="measured requests")
    p.add_argument("--warmup", type=int, default=100, help="requests before the baseline")
    p.add_argument("--every", type=int, default=100, help="sample RSS every this many")
    p.add_argument("--parallel", type=int, default=8, help="--parallel / peer slots")
    p.add_argument("--tolerance-pct", type=float, default=5.0)
    p.add_argument("--tolerance-mb", type=float, default=8.0)
    p.add_argument("--server-cmd", default=None, help="override the openmini server command")
    p.add_argument("--no-peer", action="store_true", help="skip the xllamacpp server")
    a = p.parse_args()
    if a.quick:
        a.requests, a.warmup, a.every = min(a.requests, 24), min(a.warmup, 8), 8
    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, int] = {}
    with openmini_server(a.model, a.threads, a.parallel, a.server_cmd) as srv:
        samples, failures["openmini"] = await workload(srv, model_id(srv), a.warmup,
                                                       a.requests, a.every)
        results["openmini"] = summarise(samples, a.tolerance_pct, a.tolerance_mb)
    if not a.no_peer:  # the same KV capacity as openmini's: parallel x ctx_size + prefix cache
        from openmini.backends.local import context_settings
        from openmini.config import load_config

        engine = load_config(overrides=dict(model=a.model, threads=a.threads,
                                            parallel=a.parallel)).engine
        n_ctx = context_settings(engine).n_ctx
        with xserver(model_path(a.model), a.threads, a.parallel, n_ctx) as srv:
            samples, failures["xllamacpp"] = await workload(srv, None, a.warmup, a.requests,
                                                            a.every)
            results["xllamacpp"] = summarise(samples, a.tolerance_pct, a.tolerance_mb)

    table(f"Server RSS, {a.model}, {a.threads} threads, --parallel {a.parallel}, "
          f"{a.requests} requests after {a.warmup} warm-up (MB)",
          ["server", "after warm-up", "last", "max", "growth", "slope /1000 req", "failed",
           "flat"],
          [[e, r["after_warmup_mb"], r["last_mb"], r["max_mb"], r["growth_mb"],
            r["slope_mb_per_1000"], failures[e], "yes" if r["flat"] else "NO"]
           for e, r in results.items()])
    om = results["openmini"]
    rows = [["openmini growth %", om["growth_pct"],
             verdict(om["growth_pct"], a.tolerance_pct, False)]]
    if "xllamacpp" in results:
        x = results["xllamacpp"]
        rows += [["openmini / llama.cpp server RSS (last)", ratio(om["last_mb"], x["last_mb"]),
                  ""], ["llama.cpp server growth %", x["growth_pct"], ""]]
        print(f"note: {AVX2_NOTE}; both KV caches hold {n_ctx} cells")
    table("Figures and ratios", ["what", "value", "verdict"], rows)
    save("memory", a, {"servers": results, "failed": failures, "peer_note": AVX2_NOTE})


if __name__ == "__main__":
    asyncio.run(main())
