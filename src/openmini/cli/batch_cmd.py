"""`openmini batch ...`: the Batches API from the terminal, and `batch run` with no server.

submit, list, status, cancel and results talk to a running server (--base-url, with /v1, as
the OpenAI SDK takes it; OPENMINI_BASE_URL, OPENMINI_API_KEY); `run` runs a file in this
process (batch/offline.py). Waiting and running show a progress bar: lines done, failed,
tokens/s and the time left.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

batch_app = typer.Typer(no_args_is_help=True, help="Batches: submit a JSONL file to a server, "
                        "follow it, fetch its results; or run one here with no server.")

BaseUrlOpt = Annotated[str, typer.Option(
    "--base-url", envvar="OPENMINI_BASE_URL", help="The server's API root, with /v1.")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", envvar="OPENMINI_API_KEY",
                                            help="The server's bearer key, if it has one.")]
DEFAULT_URL = "http://127.0.0.1:8000/v1"


class Bar:
    """A rich progress bar over a batch object: done, failed, tokens/s, time left."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total} done"),
                                 TextColumn("{task.fields[failed]} failed"),
                                 TextColumn("{task.fields[rate]} tok/s"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=False)
        self.task: Any = None
        self.started = time.monotonic()
        self.first_tokens: int | None = None

    def __call__(self, batch: dict[str, Any]) -> None:
        counts = batch["request_counts"]
        tokens = batch["usage"]["output_tokens"]
        if self.first_tokens is None:  # a resumed batch: rate from what this run adds
            self.first_tokens = tokens
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = f"{(tokens - self.first_tokens) / elapsed:.1f}"
        done = counts["completed"] + counts["failed"]
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(batch["id"], total=counts["total"] or None,
                                               failed=0, rate="0.0")
        self.progress.update(self.task, description=batch["status"], completed=done,
                             total=counts["total"] or None, failed=counts["failed"], rate=rate)

    def close(self) -> None:
        self.progress.stop()


def _client(base_url: str, api_key: str | None) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=60)


def _checked(response: Any) -> Any:
    """The JSON body, or the server's error on stderr and exit 1."""
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        typer.echo(f"error: {response.status_code}: {message}", err=True)
        raise typer.Exit(code=1)
    return response.json()


def _show(batch: dict[str, Any]) -> None:
    typer.echo(json.dumps(batch, indent=2))


def _wait(client: Any, batch_id: str) -> dict[str, Any]:
    from openmini.batch.batches import TERMINAL

    bar = Bar()
    try:
        while True:
            batch: dict[str, Any] = _checked(client.get(f"/batches/{batch_id}"))
            bar(batch)
            if batch["status"] in TERMINAL:
                return batch
            time.sleep(1.0)
    finally:
        bar.close()


@batch_app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="A JSONL file of requests (OpenAI's format).")],
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="Default: the first line's url.")] = None,
    window: Annotated[str, typer.Option("--completion-window")] = "24h",
    priority: Annotated[int, typer.Option("--priority", help="Lower runs first.")] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it until it ends.")] = False,
    base_url: BaseUrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
) -> None:
    """Upload FILE and start a batch on it; prints the batch (its id first)."""
    from openmini.batch.offline import first_url

    with _client(base_url, api_key) as client, file.open("rb") as f:
        uploaded = _checked(client.post("/files", data={"purpose": "batch"},
                                        files={"file": (file.name, f, "application/jsonl")}))
        batch = _checked(client.post("/batches", json={
            "input_file_id": uploaded["id"], "endpoint": endpoint or first_url(file),
            "completion_window": window, "priority": priority}))
        typer.echo(batch["id"], err=True)
        _show(_wait(client, batch["id"]) if wait else batch)


@batch_app.command("list")
def list_batches(limit: Annotated[int, typer.Option("--limit")] = 20,
                 base_url: BaseUrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """The newest batches: id, status, done/total, created."""
    with _client(base_url, api_key) as client:
        page = _checked(client.get("/batches", params={"limit": limit}))
    for b in page["data"]:
        counts = b["request_counts"]
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(b["created_at"]))
        typer.echo(f"{b['id']}  {b['status']:<11} {counts['completed']}/{counts['total']} "
                   f"done, {counts['failed']} failed  {created}")


@batch_app.command()
def status(batch_id: str, wait: Annotated[bool, typer.Option("--wait")] = False,
           base_url: BaseUrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """One batch, as the API returns it (--wait: follow it until it ends)."""
    with _client(base_url, api_key) as client:
        _show(_wait(client, batch_id) if wait else _checked(client.get(f"/batches/{batch_id}")))


@batch_app.command()
def cancel(batch_id: str, base_url: BaseUrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """Stop starting its lines; what finished is written out."""
    with _client(base_url, api_key) as client:
        _show(_checked(client.post(f"/batches/{batch_id}/cancel")))


@batch_app.command()
def results(
    batch_id: str,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Write here (default: stdout).")] = None,
    errors: Annotated[bool, typer.Option("--errors", help="The error file instead.")] = False,
    base_url: BaseUrlOpt = DEFAULT_URL, api_key: KeyOpt = None,
) -> None:
    """A finished batch's output file (or, with --errors, its error file)."""
    with _client(base_url, api_key) as client:
        batch = _checked(client.get(f"/batches/{batch_id}"))
        file_id = batch["error_file_id" if errors else "output_file_id"]
        if file_id is None:
            typer.echo(f"batch {batch_id} ({batch['status']}) has no "
                       f"{'error' if errors else 'output'} file", err=True)
            raise typer.Exit(code=1)
        with client.stream("GET", f"/files/{file_id}/content") as response:
            if response.status_code >= 400:
                response.read()
                _checked(response)
            sink = output.open("wb") if output else sys.stdout.buffer
            try:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
            finally:
                if output:
                    sink.close()


def run_offline(config: Any, router: Any, source: Path, output: Path, model: str | None,
                endpoint: str | None) -> int:
    """`batch run`'s body; the exit status."""
    from openmini.batch.offline import StateMismatch, run_file

    bar = Bar()
    try:
        batch = asyncio.run(run_file(config, router, source, output, model, endpoint, bar))
    except StateMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    finally:
        bar.close()
    if batch["status"] == "failed":
        for error in (batch["errors"] or {}).get("data", []):
            where = f"line {error['line']}: " if error.get("line") else ""
            typer.echo(f"error: {where}{error['message']}", err=True)
        return 2
    counts = batch["request_counts"]
    typer.echo(f"{counts['completed']} done, {counts['failed']} failed -> {output}", err=True)
    return 0
