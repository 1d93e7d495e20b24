"""What the relevance probe costs: latency of `tool_choice: "auto"` requests with and without it.

The probe (src/openmini/tools/relevance.py) evaluates the request's conversation plus one
question for one token before the answer starts; with the prefix cache the answer's own prompt
then reuses the shared prefix. This bench sends the same BFCL requests (one category's cases,
`auto`, greedy) one at a time to one engine, with the probe on (the model's catalogue weight)
and off (weight 0), alternating the order case by case against drift. Each request gets its
own first line in the system message, so no request finds another's prompt in the cache: both
modes start cold, as a new conversation does. Reported: median latency to the decision
(max_tokens 1) and of the whole answer (--max-tokens), and the ratio on / off.

    .venv/bin/python bench/tool_probe.py --model fast --limit 20
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bfcl import body
from bfcl_data import load
from common import median, parser, ratio, save, table


async def timed(client: httpx.AsyncClient, req: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    resp = await client.post("/v1/chat/completions", json=req)
    resp.raise_for_status()
    return time.perf_counter() - t0


def cold(req: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The request with a system message of its own first: nothing of it is cached."""
    return {**req, "messages": [{"role": "system", "content": f"Request {nonce}."},
                                *req["messages"]]}


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--category", default="simple")
    p.add_argument("--limit", type=int, default=20, help="N cases")
    p.add_argument("--max-tokens", type=int, default=128, help="for the whole-answer timing")
    a = p.parse_args()
    if a.quick:
        a.limit, a.max_tokens = min(a.limit, 2), min(a.max_tokens, 16)

    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig, ServerConfig
    from openmini.server.app import create_app

    engine = EngineConfig(model=a.model, threads=a.threads, parallel=1, ctx_size=4096)
    backend = LocalBackend(engine)
    weight = backend.tool_fit
    if not weight[0]:
        p.error(f"{a.model} has no relevance probe (tool_fit_weight 0): nothing to compare")
    app = create_app(ServerConfig(engine=engine, tool_call_retries=0), backend)
    model = backend.model_ids()[0]
    times: dict[tuple[str, int], list[float]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench", timeout=None) as client:
        await timed(client, cold(body(load(a.category, 1)[0], "auto", model, 1), "warm-up"))
        for i, case in enumerate(load(a.category, a.limit)):
            for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                backend.tool_fit = weight if mode == "on" else (0.0, weight[1])
                for n in (1, a.max_tokens):
                    req = cold(body(case, "auto", model, n), f"{i}-{mode}-{n}")
                    times.setdefault((mode, n), []).append(await timed(client, req))
    await backend.close()
    rows = [[f"max_tokens {n}", f"{median(times['on', n]) * 1000:.0f}",
             f"{median(times['off', n]) * 1000:.0f}",
             f"{ratio(median(times['on', n]), median(times['off', n])):.3f}"]
            for n in (1, a.max_tokens)]
    table(f"auto requests, {a.model}, {a.category} cases 0-{a.limit - 1}, median ms",
          ["", "probe on", "probe off", "on / off"], rows)
    save("tool_probe", a, {"ms": {f"{m}-{n}": [t * 1000 for t in v]
                                  for (m, n), v in times.items()}})


if __name__ == "__main__":
    asyncio.run(main())
