"""A batch on a real `openmini serve` process (the `tiny` model), through the official SDK: the
server is killed with SIGKILL mid-batch and started again on the same data directory; the
batch resumes and ends with every line exactly once."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]
LINES = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "openmini.cli.main", "serve", "--model", "tiny", "--port",
         str(port), "--parallel", "4", "--threads", "2", "--data-dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def batch_input() -> bytes:
    lines = []
    for i in range(LINES):
        body = {"model": "tiny", "max_tokens": 24, "temperature": 0,
                "messages": [{"role": "user", "content": f"Count to {i % 32}."}]}
        lines.append({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                      "body": body})
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def test_a_batch_resumes_after_the_server_is_killed(tmp_path: Path) -> None:
    port = free_port()
    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused",
                        max_retries=0)
    server = start(tmp_path / "data", port)
    try:
        uploaded = sdk.files.create(file=("in.jsonl", io.BytesIO(batch_input())),
                                    purpose="batch")  # type: ignore[arg-type]
        batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                   completion_window="24h")
        deadline = time.monotonic() + 120
        while (done := sdk.batches.retrieve(batch.id).request_counts) is None \
                or done.completed < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kill(server)
        server = start(tmp_path / "data", port)  # same data directory: it resumes
        resumed: Any = sdk.batches.retrieve(batch.id)
        assert resumed.status == "in_progress"
        assert resumed.request_counts.completed < LINES, "killed too late to test anything"
        while resumed.status != "completed":
            assert time.monotonic() < deadline + 300
            time.sleep(0.2)
            resumed = sdk.batches.retrieve(batch.id)
        assert resumed.request_counts.total == LINES
        assert resumed.request_counts.completed == LINES and resumed.request_counts.failed == 0
        assert resumed.error_file_id is None
        out = [json.loads(x) for x in
               sdk.files.content(resumed.output_file_id).read().splitlines()]
        assert [x["custom_id"] for x in out] == [f"c{i}" for i in range(LINES)]  # once each
        assert len({x["response"]["body"]["id"] for x in out}) == LINES
        assert (resumed.model_extra or {})["deduplication"]["lines"] == LINES - 32
    finally:
        kill(server)
