"""Router overhead: the time openmini adds in front of an upstream, on loopback.

The upstream is a canned OpenAI-compatible server (bench/canned_upstream.py: the same
two-token reply at once) in a child process; openmini (`openmini serve --config`, one
`[[providers]]` table, kind "openai", pointing at it) in another. Request i goes to the
upstream directly and through openmini (order flipped every request), non-streaming, over
one keep-alive connection each (http.client); per-request wall time. The figure: p50 through
openmini minus p50 direct (the goal: <= 1 ms; LiteLLM's proxy reports about 3-4 ms, Bifrost
0.44 ms, each on its own hardware). openmini streams every request upstream and folds the
stream back (backends/openai_compat.py), then runs its pipeline (tool-call stage, metrics,
route header): all of it is in the figure. Streaming requests are measured the same way
(time to the last byte).

    .venv/bin/python bench/router_overhead.py --requests 500
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Server, free_port, median, parser, pct, ratio, save, table, verdict

BODY = {"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "Say hello."}]}


def _post(conn: http.client.HTTPConnection, body: dict[str, Any]) -> float:
    data = json.dumps(body).encode()
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=data,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - t0
    if response.status != 200 or b"Hello" not in payload:
        raise RuntimeError(f"{response.status}: {payload[:300]!r}")
    return elapsed


def _conn(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60)


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=500, help="per path and mode")
    a = p.parse_args()
    n = 20 if a.quick else a.requests
    port = free_port()
    upstream = Server("canned", [sys.executable, str(Path(__file__).parent /
                                                     "canned_upstream.py"), str(port)], port)
    config = Path(tempfile.mkdtemp(prefix="bench-router-")) / "openmini.toml"
    config.write_text(f'[[providers]]\nname = "canned"\nkind = "openai"\n'
                      f'base_url = "{upstream.url}/v1"\nmodels = {{ "m" = "m" }}\n'
                      f'health_interval_s = 0\n')
    gw_port = free_port()
    gateway = Server("openmini", [sys.executable, "-m", "openmini.cli.main", "serve",
                                  "--model", "tiny", "--config", str(config), "--port",
                                  str(gw_port), "--threads", str(a.threads)], gw_port)
    times: dict[str, dict[str, list[float]]] = {m: {"direct": [], "openmini": []}
                                                for m in ("json", "stream")}
    try:
        conns = {"direct": _conn(upstream.url), "openmini": _conn(gateway.url)}
        for mode in ("json", "stream"):
            body = {**BODY, "stream": mode == "stream"}
            for path in conns:  # warm-up: connections, code paths
                for _ in range(20):
                    _post(conns[path], body)
            for i in range(n):
                order = ["direct", "openmini"] if i % 2 == 0 else ["openmini", "direct"]
                for path in order:
                    times[mode][path].append(_post(conns[path], body))
    finally:
        gateway.stop()
        upstream.stop()
    rows, overhead = [], {}
    for mode, paths in times.items():
        for path, xs in paths.items():
            ms = [x * 1000 for x in xs]
            rows.append([mode, path, median(ms), pct(ms, 90), pct(ms, 99)])
        overhead[mode] = (median(paths["openmini"]) - median(paths["direct"])) * 1000
    table(f"Request wall time on loopback, {n} requests per path and mode (ms)",
          ["mode", "path", "p50", "p90", "p99"], rows)
    table("Router overhead (p50 through openmini - p50 direct)", ["mode", "ms", "verdict"],
          [[m, ms, verdict(ms, 1.0, False)] for m, ms in overhead.items()])
    print(f"openmini / direct p50 (json): "
          f"{ratio(median(times['json']['openmini']), median(times['json']['direct'])):.2f}")
    save("router_overhead", a, {"overhead_ms": overhead, "requests": n,
                                "p50_ms": {m: {k: median(v) * 1000 for k, v in p.items()}
                                           for m, p in times.items()}})


if __name__ == "__main__":
    main()
