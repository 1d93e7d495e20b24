"""openmini in front of two real upstreams (two more openmini processes on loopback, kind
"openai"), grouped: one upstream killed while requests run. Non-streaming requests keep
succeeding on the other; a stream cut by the kill is continued there (stream recovery) and
the client sees one stream; the dead upstream's breaker opens."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import serve

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def upstreams() -> Iterator[list[tuple[str, int]]]:
    """Two upstream servers: (base URL, pid)."""
    with serve("tiny", "--parallel", "2", "--ctx-size", "1024") as a, \
            serve("tiny", "--parallel", "2", "--ctx-size", "1024") as b:
        yield [(a, _pid(a)), (b, _pid(b))]


def _pid(url: str) -> int:
    return int(httpx.get(f"{url}/health").json().get("pid", 0)) or _find_pid(url)


def _find_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmd and port.encode() in cmd:
                return int(proc.name)
    raise RuntimeError(f"no process serves {url}")


@pytest.fixture(scope="module")
def gateway(upstreams: list[tuple[str, int]], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[str]:
    (a, _), (b, _) = upstreams
    config = tmp_path_factory.mktemp("failover") / "openmini.toml"
    config.write_text(f"""
[[providers]]
name = "up-a"
kind = "openai"
base_url = "{a}/v1"
models = {{ "a" = "tiny" }}
prefill = true
health_interval_s = 0.2

[[providers]]
name = "up-b"
kind = "openai"
base_url = "{b}/v1"
models = {{ "b" = "tiny" }}
prefill = true
health_interval_s = 0.2

[[providers]]
name = "up-a-messages"
kind = "anthropic"
base_url = "{a}"
models = {{ "a-messages" = "tiny" }}

[[groups]]
name = "pair"
members = ["a", "b"]
backoff_s = 0.01
""")
    with serve("tiny", "--config", str(config), "--parallel", "1") as url:
        yield url


def chat(url: str, stream: bool = False, max_tokens: int = 48) -> dict[str, Any]:
    return {"model": "pair", "max_tokens": max_tokens, "temperature": 0, "stream": stream,
            "messages": [{"role": "user", "content": "Write a long story about a cat."}]}


def test_an_anthropic_kind_upstream_answers_through_the_openai_edge(
        gateway: str, upstreams: list[tuple[str, int]]) -> None:
    """kind "anthropic": the request goes up through the other openmini's /v1/messages."""
    (a, _), _ = upstreams
    body = {"max_tokens": 8, "temperature": 0,
            "messages": [{"role": "user", "content": "Say hi."}]}
    ours = httpx.post(f"{gateway}/v1/chat/completions", json={**body, "model": "a-messages"},
                      timeout=120)
    theirs = httpx.post(f"{a}/v1/chat/completions", json={**body, "model": "tiny"},
                        timeout=120)
    assert ours.status_code == 200 and ours.json()["model"] == "a-messages"
    assert ours.json()["choices"][0]["message"]["content"] == \
        theirs.json()["choices"][0]["message"]["content"]


def test_killing_an_upstream_fails_no_request_and_recovers_the_stream(
        gateway: str, upstreams: list[tuple[str, int]]) -> None:
    pids = dict(zip(["a", "b"], (pid for _, pid in upstreams), strict=True))
    with httpx.Client(timeout=120) as client, client.stream(
            "POST", f"{gateway}/v1/chat/completions", json=chat(gateway, stream=True,
                                                                 max_tokens=64)) as response:
        victim = response.headers["x-openmini-route"].split("deployment=")[1].split(";")[0]
        survivor = "b" if victim == "a" else "a"
        models, text, killed = [], "", False
        results: list[int] = []

        def others() -> None:  # non-streaming requests while the upstream dies
            for _ in range(4):
                r = httpx.post(f"{gateway}/v1/chat/completions", json=chat(gateway, False, 8),
                               timeout=120)
                results.append(r.status_code)

        worker = threading.Thread(target=others)
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            assert "error" not in chunk, chunk
            models.append(chunk["model"])
            for choice in chunk["choices"]:
                text += choice["delta"].get("content") or ""
            if not killed and len(text) > 10:
                os.kill(pids[victim], signal.SIGKILL)
                killed, worker_started = True, time.monotonic()
                worker.start()
    worker.join()
    assert killed and models[0] == victim and models[-1] == survivor  # continued there
    assert results == [200] * 4
    metrics = httpx.get(f"{gateway}/metrics").text
    assert f'openmini_deployment_breaker_state{{deployment="{victim}",state="closed"}} 0.0' \
        in metrics
    assert time.monotonic() - worker_started < 120
