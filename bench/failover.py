"""Failover under load: 8 clients for 60 s against a group of two upstreams behind openmini;
one upstream is killed (SIGKILL) a third of the way in.

Upstreams: two `openmini serve --model tiny` processes (real models, kind "openai",
`prefill = true` so a cut stream can be continued); openmini in front with the group
`pair = [a, b]` (health checks every 0.2 s). Clients: 4 send non-streaming requests, 4
streaming ones, back to back (max_tokens 32, temperature 0). Reported: requests and failures
per kind (goal: 0 failed non-streaming requests); streams cut by the kill and continued on
the other upstream (chunks switch `model` mid-stream) and streams that failed; how long
after the kill the dead upstream's breaker was open (openmini's /metrics polled every 20 ms;
goal: within 1 s); requests started later than 1 s after the kill that still went to the
dead upstream (x-openmini-route / `model`).

    .venv/bin/python bench/failover.py --seconds 60
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from common import Server, free_port, parser, save, table, verdict

BODY = {"model": "pair", "max_tokens": 32, "temperature": 0,
        "messages": [{"role": "user", "content": "Tell me a short story about a fox."}]}


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []

    def add(self, **row: Any) -> None:
        with self.lock:
            self.rows.append(row)


def _json_client(url: str, stop: float, tally: Tally) -> None:
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                r = client.post(f"{url}/v1/chat/completions", json=BODY)
                ok, model = r.status_code == 200, r.json().get("model") if r.content else None
            except httpx.HTTPError:
                ok, model = False, None
            tally.add(kind="json", start=t0, ok=ok, models=[model])


def _stream_client(url: str, stop: float, tally: Tally) -> None:
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < stop:
            t0, models, ok, text = time.monotonic(), [], False, ""
            try:
                with client.stream("POST", f"{url}/v1/chat/completions",
                                   json={**BODY, "stream": True}) as r:
                    for line in r.iter_lines():
                        if line == "data: [DONE]":
                            ok = True
                        elif line.startswith("data: "):
                            chunk = json.loads(line[6:])
                            if "error" in chunk:
                                break
                            models.append(chunk["model"])
                            text += "".join(c["delta"].get("content") or ""
                                            for c in chunk["choices"])
            except httpx.HTTPError:
                ok = False
            tally.add(kind="stream", start=t0, ok=ok and bool(text),
                      models=list(dict.fromkeys(models)))


def _breaker_open(url: str, victim: str) -> bool:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return f'openmini_deployment_breaker_state{{deployment="{victim}",state="open"}} 1.0' in text


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--clients", type=int, default=8)
    a = p.parse_args()
    seconds = 15.0 if a.quick else a.seconds
    ports = [free_port(), free_port()]
    ups = [Server(f"up-{n}", [sys.executable, "-m", "openmini.cli.main", "serve", "--model",
                              "tiny", "--port", str(port), "--threads", "1", "--parallel",
                              "4"], port) for n, port in zip("ab", ports, strict=True)]
    config = Path(tempfile.mkdtemp(prefix="bench-failover-")) / "openmini.toml"
    config.write_text("".join(
        f'[[providers]]\nname = "up-{n}"\nkind = "openai"\nbase_url = "{u.url}/v1"\n'
        f'models = {{ "{n}" = "tiny" }}\nprefill = true\nhealth_interval_s = 0.2\n\n'
        for n, u in zip("ab", ups, strict=True))
        + '[[groups]]\nname = "pair"\nmembers = ["a", "b"]\nbackoff_s = 0.01\n')
    gw_port = free_port()
    gateway = Server("openmini", [sys.executable, "-m", "openmini.cli.main", "serve",
                                  "--model", "tiny", "--config", str(config), "--port",
                                  str(gw_port), "--threads", "1"], gw_port)
    tally, start = Tally(), time.monotonic()
    stop, kill_at = start + seconds, start + seconds / 3
    threads = [threading.Thread(target=_json_client if i % 2 == 0 else _stream_client,
                                args=(gateway.url, stop, tally)) for i in range(a.clients)]
    out_after = None
    try:
        for t in threads:
            t.start()
        time.sleep(max(0.0, kill_at - time.monotonic()))
        os.kill(ups[1].pid, signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < 10:
            if _breaker_open(gateway.url, "b"):
                out_after = time.monotonic() - killed
                break
            time.sleep(0.02)
        for t in threads:
            t.join()
    finally:
        gateway.stop()
        for u in ups:
            u.stop()
    rows = tally.rows
    json_rows = [r for r in rows if r["kind"] == "json"]
    streams = [r for r in rows if r["kind"] == "stream"]
    recovered = [r for r in streams if r["ok"] and len(r["models"]) > 1]
    late = [r for r in rows if r["start"] > killed + 1.0 and "b" in r["models"]]
    table(f"Failover: {a.clients} clients, {seconds:.0f} s, upstream b killed at "
          f"{kill_at - start:.1f} s", ["kind", "requests", "failed", "continued elsewhere"],
          [["non-streaming", len(json_rows), sum(not r["ok"] for r in json_rows), "-"],
           ["streaming", len(streams), sum(not r["ok"] for r in streams), len(recovered)]])
    failed_json = sum(not r["ok"] for r in json_rows)
    out = out_after if out_after is not None else float("inf")
    table("Goals", ["figure", "value", "verdict"], [
        ["failed non-streaming requests", failed_json, verdict(failed_json, 0, False)],
        ["dead upstream out of rotation after (s)", out, verdict(out, 1.0, False)],
        ["requests to it > 1 s after the kill", len(late), verdict(len(late), 0, False)]])
    save("failover", a, {"seconds": seconds, "rows": rows, "killed_at": killed - start,
                         "out_of_rotation_s": out_after, "recovered_streams": len(recovered)})


if __name__ == "__main__":
    main()
