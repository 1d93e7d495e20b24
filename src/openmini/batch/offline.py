"""`openmini batch run`: a JSONL file through the batch runner in this process, no server.

The same app, store and runner as the server's (its lines go through the same endpoints in
the batch lane), with the data directory kept beside the output file (`OUTPUT.state/`).
Run again after a crash, the same command finds that state and goes on: lines whose results
were committed are not run again. The output file holds every line, in input order: the
output file's lines and the error file's (a line's `response.status_code`, or its `error`,
says which), written once the batch ends. As `openmini serve` does, it serves the embedding
model (`/v1/embeddings` lines) unless embeddings are off, and `codebase` fields search the
indexes of the configured data directory (`openmini index add` puts them there), not the
run's state directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from openmini.backends.base import Backend
from openmini.batch.batches import TERMINAL
from openmini.batch.results import result_lines
from openmini.config import ServerConfig
from openmini.router import Router

WINDOW = "3650d"  # an offline run has no completion window to speak of
Progress = Callable[[dict[str, Any]], None]  # called with the batch object as it goes


class StateMismatch(Exception):
    """OUTPUT.state/ belongs to another input (or model): not resumed, not overwritten."""


def state_dir(output: Path) -> Path:
    return output.with_name(output.name + ".state")


def first_url(path: Path) -> str:
    """The endpoint of a file's first line (every line must name the same one)."""
    with path.open("rb") as f:
        for raw in f:
            if raw.strip():
                try:
                    url = json.loads(raw).get("url")
                except (ValueError, AttributeError):
                    break
                if isinstance(url, str):
                    return url
                break
    return "/v1/chat/completions"


def _fingerprint(path: Path, endpoint: str, model: str | None) -> str:
    digest = hashlib.sha256(f"{endpoint}\n{model}\n".encode())
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _with_model(source: Path, target: Path, model: str) -> None:
    """The input with every line's body.model set to `model` (lines that do not parse are
    copied as they are: validation names them)."""
    with source.open("rb") as src, target.open("wb") as dst:
        for raw in src:
            try:
                item = json.loads(raw)
                item["body"]["model"] = model
                raw = (json.dumps(item, ensure_ascii=False) + "\n").encode()
            except (ValueError, TypeError, KeyError, AttributeError):
                pass
            dst.write(raw)


async def run_file(config: ServerConfig, backend: Backend | Router, source: Path,
                   output: Path, model: str | None, endpoint: str | None,
                   progress: Progress | None = None, poll_s: float = 0.5) -> dict[str, Any]:
    """Run `source` to `output`; the batch object at the end."""
    from openmini.engine.embed import open_embedders
    from openmini.server.app import create_app

    endpoint = endpoint or first_url(source)
    state = state_dir(output)
    state.mkdir(parents=True, exist_ok=True)
    cache_dir = config.model_cache_path()
    embedders = await asyncio.to_thread(open_embedders, config, cache_dir)  # as serve does
    # the run's own state in `state`; `codebase` searches the user's indexes, not the state's
    app = create_app(replace(config, data_dir=str(state)), backend, embedders,
                     index_dir=config.data_path() / "indexes", resume_indexes=False)
    async with app.router.lifespan_context(app):
        batch_id = await asyncio.to_thread(_batch_for, app, state, source, endpoint, model)
        app.state.runner.wake()
        while True:
            batch = app.state.batches.get(batch_id)
            if progress is not None:
                progress(batch)
            if batch["status"] in TERMINAL:
                break
            await asyncio.sleep(poll_s)
        await asyncio.to_thread(_write_output, app, batch_id, output)
    return batch


def _batch_for(app: Any, state: Path, source: Path, endpoint: str, model: str | None) -> str:
    """The batch recorded in `state` for this input, or a new one."""
    marker = state / "run.json"
    fingerprint = _fingerprint(source, endpoint, model)
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("fingerprint") != fingerprint:
            raise StateMismatch(f"{state} holds the state of another run (a different input, "
                                "endpoint or --model): remove it, or write to another output")
        return str(recorded["batch_id"])
    upload = source
    if model is not None:
        upload = state / "input.jsonl"
        _with_model(source, upload, model)
    with upload.open("rb") as f:
        record = app.state.files.save(f, source.name, "batch", None)
    batch = app.state.batches.create(endpoint, record.id, WINDOW, None, 0)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "batch_id": batch["id"]}))
    os.replace(tmp, marker)
    return str(batch["id"])


def _write_output(app: Any, batch_id: str, output: Path) -> None:
    """Every line's result, in input order, written whole and then moved into place."""
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("wb") as f:
        for line in result_lines(app.state.store, batch_id, ("done", "failed")):
            f.write(line)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, output)
