"""`openmini batch submit/list/status/cancel/results` against a real server (the app under
uvicorn on loopback, a scripted backend behind it), as a user runs them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmini.cli.main import app
from openmini.config import ServerConfig
from server.fake_backend import FakeBackend
from server.routes.serving import serving

KEY = "sekrit"


def write_lines(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"custom_id": f"c{i}", "method": "POST",
                                "url": "/v1/chat/completions",
                                "body": {"model": "fake", "messages": [
                                    {"role": "user", "content": f"hi {i}"}]}}) + "\n")


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    config = ServerConfig(data_dir=str(tmp_path / "data"), api_key=KEY)
    with serving(config, FakeBackend()) as base:
        yield f"{base}/v1"


def cli(url: str, *args: str) -> object:
    result = CliRunner().invoke(app, ["batch", *args, "--base-url", url, "--api-key", KEY])
    return result


def test_submit_wait_then_results_list_and_status(url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_lines(source, 3)
    submitted = CliRunner().invoke(app, ["batch", "submit", str(source), "--wait",
                                         "--base-url", url, "--api-key", KEY])
    assert submitted.exit_code == 0, submitted.output
    batch_id = re.search(r"batch_[0-9a-f]{32}", submitted.output).group(0)  # type: ignore[union-attr]
    assert '"status": "completed"' in submitted.output
    out = tmp_path / "out.jsonl"
    fetched = cli(url, "results", batch_id, "-o", str(out))
    assert fetched.exit_code == 0  # type: ignore[attr-defined]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["custom_id"] for x in lines] == ["c0", "c1", "c2"]
    assert all(x["response"]["status_code"] == 200 for x in lines)
    listed = cli(url, "list")
    assert batch_id in listed.output and "completed" in listed.output  # type: ignore[attr-defined]
    shown = cli(url, "status", batch_id)
    assert json.loads(shown.output)["request_counts"]["completed"] == 3  # type: ignore[attr-defined]
    no_errors = cli(url, "results", batch_id, "--errors")
    assert no_errors.exit_code == 1 and "no error file" in no_errors.output  # type: ignore[attr-defined]


def test_errors_from_the_server_are_one_line_and_exit_1(url: str, tmp_path: Path) -> None:
    unknown = cli(url, "status", "batch_" + "0" * 32)
    assert unknown.exit_code == 1  # type: ignore[attr-defined]
    assert "404" in unknown.output and "No batch found" in unknown.output  # type: ignore[attr-defined]
    source = tmp_path / "in.jsonl"
    write_lines(source, 1)
    bad = CliRunner().invoke(app, ["batch", "submit", str(source), "--endpoint", "/v1/nope",
                                   "--base-url", url, "--api-key", KEY])
    assert bad.exit_code == 1 and "endpoint must be one of" in bad.output
    wrong_key = CliRunner().invoke(app, ["batch", "list", "--base-url", url, "--api-key", "x"])
    assert wrong_key.exit_code == 1 and "401" in wrong_key.output


def test_cancel_a_finished_batch_is_refused(url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_lines(source, 1)
    submitted = CliRunner().invoke(app, ["batch", "submit", str(source), "--wait",
                                         "--base-url", url, "--api-key", KEY])
    batch_id = re.search(r"batch_[0-9a-f]{32}", submitted.output).group(0)  # type: ignore[union-attr]
    refused = cli(url, "cancel", batch_id)
    assert refused.exit_code == 1 and "409" in refused.output  # type: ignore[attr-defined]
