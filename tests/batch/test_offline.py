"""`openmini batch run` as a user runs it: a real subprocess on the `tiny` model, killed with
SIGKILL mid-batch and run again: no line lost, none run twice, the output in input order."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

LINES = 48


def write_input(path: Path, n: int = LINES, model: str = "whatever") -> list[str]:
    ids = []
    with path.open("w") as f:
        for i in range(n):
            ids.append(f"line-{i}")
            body = {"model": model, "max_tokens": 32, "temperature": 0,
                    "messages": [{"role": "system", "content": "You count things."},
                                 {"role": "user", "content": f"Count to {i % 40}."}]}
            f.write(json.dumps({"custom_id": ids[-1], "method": "POST",
                                "url": "/v1/chat/completions", "body": body}) + "\n")
    return ids


def command(source: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "openmini.cli.main", "batch", "run", str(source), "-o",
            str(output), "--model", "tiny", "--parallel", "4", "--threads", "2"]


def done_lines(output: Path) -> int:
    db = output.with_name(output.name + ".state") / "openmini.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT COUNT(*) FROM lines WHERE state != 'pending'").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return int(row[0])


def read_output(output: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_a_batch_killed_twice_finishes_with_every_line_once(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(source)
    for _ in range(2):
        proc = subprocess.Popen(command(source, output), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        before = done_lines(output)
        deadline = time.monotonic() + 120
        while done_lines(output) < before + 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert done_lines(output) < LINES, "killed too late to test anything"
        assert not output.exists()  # the output is written once, at the end
    finished = subprocess.run(command(source, output), capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    lines = read_output(output)
    assert [x["custom_id"] for x in lines] == ids  # each once, in input order
    assert all(x["response"]["status_code"] == 200 and x["error"] is None for x in lines)
    assert len({x["response"]["body"]["id"] for x in lines}) == LINES  # own ids, dedup too
    assert len({x["id"] for x in lines}) == LINES
    # equal lines (i and i + 40) answered alike, once
    by_id = {x["custom_id"]: x["response"]["body"]["choices"][0]["message"]["content"]
             for x in lines}
    assert all(by_id[f"line-{i}"] == by_id[f"line-{i + 40}"] for i in range(LINES - 40))
    assert f"{LINES} done, 0 failed" in finished.stderr


def test_run_again_after_the_end_rewrites_nothing_and_another_input_is_refused(
        tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(source, n=3)
    first = subprocess.run(command(source, output), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    answers = output.read_text()
    again = subprocess.run(command(source, output), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and output.read_text() == answers
    write_input(source, n=4)
    other = subprocess.run(command(source, output), capture_output=True, text=True,
                           timeout=300)
    assert other.returncode == 2 and "another run" in other.stderr


def test_a_bad_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(source, n=2)
    with source.open("a") as f:
        f.write('{"custom_id": "x", "method": "GET", "url": "/v1/chat/completions", '
                '"body": {}}\n')
    bad = subprocess.run(command(source, output), capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "line 3:" in bad.stderr and "method" in bad.stderr


pytestmark = pytest.mark.timeout(600)


def jsonl(path: Path, url: str, bodies: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": url,
                                        "body": body}) + "\n" for i, body in enumerate(bodies)))
    return path


def test_an_embeddings_batch_runs_on_the_embedding_model(tmp_path: Path) -> None:
    import asyncio

    from openmini.batch.offline import run_file
    from openmini.config import ServerConfig
    from server.fake_backend import FakeBackend

    source = jsonl(tmp_path / "in.jsonl", "/v1/embeddings", [
        {"model": "all-minilm-l6-v2", "input": ["parse an HTTP date", "sum two numbers"]},
        {"model": "all-minilm-l6-v2", "input": "one text", "encoding_format": "base64"}])
    output = tmp_path / "out.jsonl"
    config = ServerConfig(data_dir=str(tmp_path / "data"))
    batch = asyncio.run(run_file(config, FakeBackend(), source, output, None, None))
    assert batch["request_counts"]["completed"] == 2
    first, second = read_output(output)
    vectors = first["response"]["body"]["data"]
    assert [len(v["embedding"]) for v in vectors] == [384, 384]
    assert isinstance(second["response"]["body"]["data"][0]["embedding"], str)  # base64


def test_codebase_lines_search_the_configured_data_directory(tmp_path: Path) -> None:
    import asyncio

    from index.build import add_index
    from openmini.batch.offline import run_file
    from openmini.config import ServerConfig
    from server.fake_backend import FakeBackend

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dates.py").write_text('def parse_http_date(value):\n    """HTTP date."""\n'
                                   "    return 0\n")
    add_index(tmp_path / "data", repo, "repo")
    source = jsonl(tmp_path / "in.jsonl", "/v1/chat/completions", [
        {"model": "fake", "messages": [{"role": "user", "content": "parse an http date"}],
         "codebase": {"index": "repo", "k": 1}}])
    backend = FakeBackend()
    config = ServerConfig(data_dir=str(tmp_path / "data"))
    output = tmp_path / "out.jsonl"
    asyncio.run(run_file(config, backend, source, output, None, None))
    (line,) = read_output(output)
    assert line["response"]["status_code"] == 200, line
    assert [c["path"] for c in line["response"]["body"]["context"]] == ["dates.py"]
    sent = backend.requests[0].messages
    assert sent is not None and "def parse_http_date" in sent[0].content
    assert not (tmp_path / "out.jsonl.state" / "indexes").exists()
