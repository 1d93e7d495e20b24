"""HTTP overhead of the openmini server: wall time of a request over HTTP minus the time the
same request takes through the in-process API (same pipeline and engine, no HTTP).

The real server (`openmini serve`) runs in a child process; the in-process engine lives in
this one, with the same model, threads and --parallel. Request i goes to both (order flipped
every request), with the same prompt, greedy, max_tokens 1..8, non-streaming. The server does
not report per-request engine time, so the in-process twin is the reference. The client is
http.client over one keep-alive connection (its own cost, ~0.1 ms, counts as overhead).
A second, low-noise figure: the same requests to the same server code around an instant stub
backend (canned tokens), minus the stub's in-process time: the HTTP layer's cost alone.
Peer: llama.cpp's server (xllamacpp) reports its engine time in `timings` (prompt_ms +
predicted_ms); its overhead is wall time minus that, measured with the same client.

    .venv/bin/python bench/server_overhead.py --model fast --requests 200
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
import time
from typing import Any

from common import (
    AVX2_NOTE,
    Server,
    free_port,
    median,
    model_id,
    model_path,
    openmini,
    openmini_server,
    parser,
    pct,
    ratio,
    save,
    table,
    verdict,
    xserver,
)

SUBJECTS = ["the moon", "a red bicycle", "binary search", "green tea", "the Rhine", "jazz",
            "prime numbers", "a lighthouse", "compilers", "autumn", "Rust lifetimes", "bread"]


STUB = """
from openmini.backends.base import BackendStats, Capabilities
from openmini.types import ChoiceFinished, Done, TextDelta, Usage

class Stub:
    capabilities = Capabilities()
    def model_ids(self): return ["stub"]
    async def generate(self, request):
        n = request.sampling.max_tokens or 1
        for i in range(n):
            yield TextDelta(0, " word", (1000 + i,))
        yield ChoiceFinished(0, "length")
        yield Done(Usage(12, n, 0))
    def stats(self): return BackendStats()
    async def close(self): pass
"""
SERVE_STUB = STUB + """
import sys
from openmini.config import load_config
from openmini.server.run import serve
serve(load_config(overrides={"port": int(sys.argv[1])}), Stub())
"""


async def stub_overhead(n: int, warmup: int) -> list[float]:
    """HTTP wall time to a stub-backed server minus the stub's in-process time (ms)."""
    from openmini.api import AsyncOpenMini

    ns: dict[str, Any] = {}
    exec(STUB, ns)
    local = AsyncOpenMini(backend=ns["Stub"]())
    port = free_port()
    out = []
    with Server("openmini-stub", [sys.executable, "-c", SERVE_STUB, str(port)], port) as srv:
        http = Client(srv)
        for i in range(warmup + n):
            body = {"model": "stub", "messages": message(i), "max_tokens": 1 + i % 8}
            wall, _ = http.post("/v1/chat/completions", body)
            t0 = time.perf_counter()
            await local.chat(message(i), max_tokens=1 + i % 8)
            if i >= warmup:
                out.append((wall - (time.perf_counter() - t0)) * 1000)
    return out


def message(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Say something short about {SUBJECTS[i % 12]} ({i})."}]


def _server_timing(header: str) -> dict[str, float]:
    """`engine;dur=1.2, total;dur=3.4` -> {"engine": 1.2, "total": 3.4} (ms)."""
    parts = (p.strip().split(";dur=") for p in header.split(",") if ";dur=" in p)
    return {name: float(value) for name, value in parts}


class Client:
    """Blocking JSON POSTs over one keep-alive connection."""

    def __init__(self, server: Server):
        host, port = server.url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        self.timing: dict[str, float] = {}

    def post(self, path: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        data = json.dumps(body).encode()
        for attempt in (0, 1):  # llama.cpp's server drops a connection after 100 requests
            t0 = time.perf_counter()
            try:
                self.conn.request("POST", path, data, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                if attempt:
                    raise
        wall = time.perf_counter() - t0
        self.timing = _server_timing(resp.getheader("server-timing") or "")
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {raw[:300]!r}")
        return wall, json.loads(raw)


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=200, help="measured requests")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    p.add_argument("--parallel", type=int, default=8, help="--parallel of both openminis")
    p.add_argument("--gap-ms", type=float, default=20,
                   help="pause between the two twins, so one process's idle compute threads "
                        "have stopped spinning when the other starts")
    p.add_argument("--server-cmd", default=None,
                   help="override the server command ({python} {model} {port} {threads} "
                        "{parallel} are filled in)")
    p.add_argument("--no-peer", action="store_true", help="skip the xllamacpp server")
    a = p.parse_args()
    if a.quick:
        a.requests, a.warmup = min(a.requests, 10), min(a.warmup, 3)
    server = openmini_server(a.model, a.threads, a.parallel, a.server_cmd)
    om = openmini(a.model, a.threads, parallel=a.parallel)
    peer = None
    try:
        http = Client(server)
        served = model_id(server)
        overhead, walls, inproc, mismatched = [], [], [], 0
        server_side: list[float] = []  # Server-Timing total - engine, measured by the server
        for i in range(a.warmup + a.requests):
            params = dict(max_tokens=1 + i % 8, temperature=0.0)
            body = {"model": served, "messages": message(i), **params}
            if i % 2 == 0:
                wall, resp = http.post("/v1/chat/completions", body)
                time.sleep(a.gap_ms / 1000)
            t0 = time.perf_counter()
            local = await om.chat(message(i), **params)
            engine = time.perf_counter() - t0
            if i % 2 == 1:
                time.sleep(a.gap_ms / 1000)
                wall, resp = http.post("/v1/chat/completions", body)
            if i < a.warmup:
                continue
            mismatched += resp["usage"]["completion_tokens"] != local.usage.completion_tokens
            walls.append(wall * 1000)
            server_side.append(http.timing["total"] - http.timing["engine"])
            inproc.append(engine * 1000)
            overhead.append((wall - engine) * 1000)
        server.stop()
        await om.close()
        stub = await stub_overhead(a.requests, a.warmup)

        peer_over: list[float] = []
        if not a.no_peer:
            peer = xserver(model_path(a.model), a.threads, a.parallel, a.parallel * 512)
            xhttp = Client(peer)
            for i in range(a.warmup + a.requests):
                body = {"messages": message(i), "max_tokens": 1 + i % 8, "temperature": 0.0}
                wall, resp = xhttp.post("/v1/chat/completions", body)
                t = resp.get("timings") or {}
                if i >= a.warmup:
                    peer_over.append(wall * 1000 - t["prompt_ms"] - t["predicted_ms"])
    finally:
        server.stop()
        if peer:
            peer.stop()

    rows = [["openmini HTTP wall", median(walls), pct(walls, 90), ""],
            ["openmini in-process (pipeline + engine)", median(inproc), pct(inproc, 90), ""],
            ["openmini HTTP overhead (paired difference)", median(overhead), pct(overhead, 90),
             f"mean {sum(overhead) / len(overhead):.3f}"],
            ["openmini HTTP layer alone (instant stub backend)", median(stub), pct(stub, 90),
             "same server code, no engine noise"],
            ["openmini server-side: total - engine (Server-Timing)", median(server_side),
             pct(server_side, 90), "the server's own clock; client excluded"]]
    if peer_over:
        rows.append(["llama.cpp server overhead (wall - timings)", median(peer_over),
                     pct(peer_over, 90), "AVX2-only wheel; excludes its tokenisation"])
    table(f"Server overhead, {a.model}, {a.threads} threads, {a.requests} sequential chat "
          "requests, max_tokens 1..8, non-streaming (ms)", ["what", "p50", "p90", "note"], rows)
    r_om = median(overhead)
    ratios = [["openmini overhead p50 (ms), paired", r_om, verdict(r_om, 1.0, False)],
              ["openmini overhead p50 (ms), stub", median(stub), verdict(median(stub), 1.0,
                                                                          False)],
              ["openmini overhead p50 (ms), Server-Timing", median(server_side),
               verdict(median(server_side), 1.0, False)]]
    if peer_over:
        ratios.append(["openmini / llama.cpp server overhead p50",
                       ratio(r_om, median(peer_over)), ""])
        print(f"note: {AVX2_NOTE}")
    table("Figures and ratios", ["what", "value", "verdict"], ratios)
    if mismatched:
        print(f"WARNING: {mismatched} requests produced different token counts over HTTP")
    save("server_overhead", a, {
        "overhead_ms": {"p50": r_om, "p90": pct(overhead, 90), "mean":
                        sum(overhead) / len(overhead)},
        "stub_overhead_ms": {"p50": median(stub), "p90": pct(stub, 90)},
        "server_timing_overhead_ms": {"p50": median(server_side), "p90": pct(server_side, 90)},
        "http_ms": {"p50": median(walls), "p90": pct(walls, 90)},
        "inprocess_ms": {"p50": median(inproc), "p90": pct(inproc, 90)},
        "peer_overhead_ms": {"p50": median(peer_over), "p90": pct(peer_over, 90)}
        if peer_over else None, "token_count_mismatches": mismatched, "peer_note": AVX2_NOTE,
        "samples": {"overhead": overhead, "stub": stub, "peer": peer_over}})


if __name__ == "__main__":
    asyncio.run(main())
