"""Shared helpers for the benchmarks: arguments, timing, tables, results, peer servers.

Peers use the same GGUF and threads. llama.cpp's server comes from `xllamacpp` (the `bench`
extra) and runs in a child process: its RSS, threads and llama.cpp build stay apart from ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).resolve().parent / "results"
AVX2_NOTE = "xllamacpp's prebuilt wheel is AVX2-only (openmini's llama.cpp is built natively)"


# --- arguments, statistics, output --------------------------------------------------------

def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default="fast", help="alias (default, fast, tiny) or a .gguf")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for every engine")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not figures")
    return p


def model_path(model: str) -> str:
    from openmini.models import resolve_model

    return str(resolve_model(model))


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: Sequence[float], p: int) -> float:
    """The p-th percentile (1..99), linear interpolation."""
    if len(xs) < 2:
        return xs[0] if xs else float("nan")
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[(f"{c:.3f}" if abs(c) < 10 else f"{c:.1f}") if isinstance(c, float) else str(c)
              for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return f"{'PASS' if ok else 'MISS'} (target {'>=' if higher_is_better else '<='} {target})"


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = info.splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "avx": [f for f in flags if "avx" in f],
            "loadavg": os.getloadavg(), "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": {d: _version(d) for d in
                         ("openmini", "llama_cpp_python", "xllamacpp", "httpx", "uvicorn")}}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def save(name: str, args: argparse.Namespace, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)  # gitignored
    stem = Path(args.model).stem if args.model.endswith(".gguf") else args.model
    out = RESULTS / f"{name}-{stem}{'-quick' if args.quick else ''}.json"
    body = {"benchmark": name, "args": vars(args), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": machine(), **data}
    out.write_text(json.dumps(body, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")
    return out


# --- timed runs ---------------------------------------------------------------------------

@dataclass(slots=True)
class Run:
    """One request, timed from submission: first token, end, tokens produced."""

    ttft: float = float("nan")
    total: float = float("nan")
    n_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    tokens: list[int] = field(default_factory=list)

    @property
    def decode_tps(self) -> float:
        """Tokens after the first one over the time after the first one (prefill excluded)."""
        return ratio(self.n_tokens - 1, self.total - self.ttft)


def openmini(model: str, threads: int, parallel: int, **engine: Any) -> Any:
    from openmini.api import AsyncOpenMini

    return AsyncOpenMini(model, threads=threads, parallel=parallel, **engine)


async def om_run(om: Any, messages: Any = None, **kw: Any) -> Run:
    """One request through the in-process API (pipeline + engine, no HTTP)."""
    from openmini.types import Done, Failed, TextDelta

    run = Run()
    t0 = time.perf_counter()
    async for ev in om.events(om.request(messages, **kw)):
        if isinstance(ev, TextDelta) and ev.token_ids:
            if not run.tokens:
                run.ttft = time.perf_counter() - t0
            run.tokens.extend(ev.token_ids)
        elif isinstance(ev, Done):
            run.prompt_tokens, run.cached_tokens = ev.usage.prompt_tokens, ev.usage.cached_tokens
        elif isinstance(ev, Failed):
            raise ev.error
    run.total = time.perf_counter() - t0
    run.n_tokens = len(run.tokens)
    return run


# llama.cpp's server silently drops a kept-alive connection after 100 requests: retry once.
RETRY = (httpx.RemoteProtocolError, httpx.ConnectError)


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    try:
        return await client.post(url, json=body)
    except RETRY:
        return await client.post(url, json=body)


async def sse_run(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> Run:
    """One streaming request to an OpenAI-style endpoint; TTFT = first chunk with text."""
    try:
        return await _sse_run(client, url, payload)
    except RETRY:
        return await _sse_run(client, url, payload)


async def _sse_run(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> Run:
    body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
    run, chunks, usage, timings = Run(), 0, None, None
    t0 = time.perf_counter()
    async with client.stream("POST", url, json=body) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status_code} {(await resp.aread())[:300]!r}")
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            if chunks and '"usage"' not in line and '"timings"' not in line:
                chunks += 1  # keep the client's CPU, which shares the cores, to a minimum
                continue
            obj = json.loads(line[6:])
            for ch in obj.get("choices") or ():
                if ch.get("text") or (ch.get("delta") or {}).get("content"):
                    chunks += 1
                    if chunks == 1:
                        run.ttft = time.perf_counter() - t0
            usage, timings = obj.get("usage") or usage, obj.get("timings") or timings
    run.total = time.perf_counter() - t0
    run.n_tokens = chunks
    if usage:
        run.n_tokens = usage.get("completion_tokens", chunks)
        run.prompt_tokens = usage.get("prompt_tokens", 0)
        run.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    if timings:  # llama.cpp's server
        run.n_tokens = timings.get("predicted_n", run.n_tokens)
        run.cached_tokens = timings.get("cache_n", run.cached_tokens)
    return run


# --- child-process servers ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


class Server:
    """A server in a child process; `url` once /health answers; stop() ends it."""

    def __init__(self, name: str, argv: list[str], port: int, timeout: float = 600):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        fd, log = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        self.log = Path(log)
        with os.fdopen(fd, "wb") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not become healthy:\n{self.tail()}")
            time.sleep(0.25)

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn shuts down gracefully, xllamacpp's child at once
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_XSERVER = """
import sys, xllamacpp as x
path, (threads, parallel, n_ctx, n_batch, port, jinja) = sys.argv[1], map(int, sys.argv[2:8])
p = x.CommonParams()
p.model.path = path
p.n_parallel, p.n_ctx, p.n_batch, p.n_ubatch = parallel, n_ctx, n_batch, n_batch
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
p.port, p.hostnames, p.cache_prompt, p.verbosity = port, ["127.0.0.1"], True, 0
p.use_jinja = bool(jinja)  # the GGUF's chat template: tools in the prompt, calls parsed
if len(sys.argv) > 8 and sys.argv[8]:
    p.mmproj.path, p.mmproj_use_gpu = sys.argv[8], False
server = x.Server(p)
print("listening", server.listening_address, flush=True)
sys.stdin.read()
"""


def xserver(path: str, threads: int, parallel: int, n_ctx: int, n_batch: int = 512,
            jinja: bool = False, mmproj: str | None = None) -> Server:
    """llama.cpp's server (xllamacpp.Server) with `parallel` slots sharing n_ctx cells;
    `jinja`: the GGUF's own chat template (tools need it: without it the server renders no
    tools and parses no calls); `mmproj`: a vision projector (on the CPU)."""
    port = free_port()
    argv = [sys.executable, "-c", _XSERVER, path, str(threads), str(parallel), str(n_ctx),
            str(n_batch), str(port), str(int(jinja)), mmproj or ""]
    return Server("xllamacpp", argv, port)


def openmini_server(model: str, threads: int, parallel: int, cmd: str | None = None) -> Server:
    """`openmini serve` in a child process; `cmd` overrides it ({model} {port} {threads}
    {parallel} {python} are filled in)."""
    port = free_port()
    if cmd:
        argv = cmd.format(model=model, port=port, threads=threads, parallel=parallel,
                          python=sys.executable).split()
    else:
        argv = [sys.executable, "-m", "openmini.cli.main", "serve", "--model", model,
                "--port", str(port), "--threads", str(threads), "--parallel", str(parallel)]
    return Server("openmini", argv, port)


def model_id(server: Server) -> str:
    data = httpx.get(server.url + "/v1/models", timeout=10).json()["data"]
    return str(data[0]["id"])
