"""bfcl-eval (BFCL's own harness) driven for bench/bfcl_multi.py: its data, runs and scores.

Run as a script, this registers one model in bfcl-eval's `MODEL_CONFIG_MAPPING` (its
`OpenAICompletionsHandler` in function-calling mode, pointed at OPENAI_BASE_URL) and hands the
rest of the command line to bfcl's own CLI (`bfcl generate ...`, `bfcl evaluate ...`):

    BFCL_PROJECT_ROOT=DIR OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=unused \\
        .venv/bin/python bench/bfcl_harness.py REGISTRY SERVED_MODEL generate --model REGISTRY \\
        --run-ids --num-threads 2

A registration lives in the process that made it, so every bfcl step runs in a child that makes
its own. The parent (`bfcl_multi.py`) never imports bfcl_eval (the import creates folders under
BFCL_PROJECT_ROOT and loads every vendor SDK): it reads bfcl's data, result and score files,
which are JSON lines. Install: `.venv/bin/pip install --no-deps -r bench/requirements-bfcl.txt`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

from common import Server, xserver

IDS_FILE = "test_case_ids_to_generate.json"  # bfcl's --run-ids reads it from BFCL_PROJECT_ROOT
ALIASES = {"simple": "simple_python"}  # bfcl's name for the Python AST `simple` category
# Categories whose cases are plain entries in data/BFCL_v4_<category>.json (memory_*, web_search_*
# and format_sensitivity are built from other files, need a network or are not scored in FC).
SKIP = re.compile(r"^(memory|web_search|format_sensitivity)")
INSTALL = ".venv/bin/pip install --no-deps -r bench/requirements-bfcl.txt"


# --- bfcl-eval's data, read as files ------------------------------------------------------

def package_dir() -> Path:
    spec = util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        raise SystemExit(f"bfcl-eval is not installed: {INSTALL}")
    return Path(spec.origin).parent


def version() -> str:
    return metadata.version("bfcl-eval")


def data_files() -> dict[str, Path]:
    """Category -> its data file, for the categories this bench can run."""
    out = {}
    for f in sorted((package_dir() / "data").glob("BFCL_v*_*.json")):
        category = f.stem.split("_", 2)[2]
        if not SKIP.match(category):
            out[category] = f
    return out


def category_name(name: str) -> str:
    return ALIASES.get(name, name)


def case_ids(category: str, limit: int | None) -> list[str]:
    """The first `limit` ids of a category, in bfcl's own order (the same for every arm)."""
    path = data_files()[category]
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]
    return ids[:limit] if limit else ids


def write_ids(root: Path, ids: dict[str, list[str]]) -> Path:
    """bfcl's id file: with `generate --run-ids` only these cases run."""
    root.mkdir(parents=True, exist_ok=True)
    out = root / IDS_FILE
    out.write_text(json.dumps(ids, indent=1) + "\n")
    return out


def registry_name(arm: str, model: str) -> str:
    """bfcl's key for the model: no `_` (bfcl reads `_` in a folder name as `/`), no `/`."""
    stem = Path(model).stem if model.endswith(".gguf") else model
    return re.sub(r"[^A-Za-z0-9.-]+", "-", f"{arm}-{stem}-FC")


# --- bfcl's CLI in a child process --------------------------------------------------------

def bfcl(root: Path, registry: str, served: str, base_url: str, args: list[str],
         log: Path) -> float:
    """One bfcl CLI command for `registry`, output appended to `log`; its wall time."""
    env = {**os.environ, "BFCL_PROJECT_ROOT": str(root), "OPENAI_BASE_URL": base_url,
           "OPENAI_API_KEY": "unused", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, __file__, registry, served, *args]
    t0 = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(argv[2:])}\n")
        out.flush()
        rc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    if rc != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bfcl {args[0]} exited with {rc} (log {log}):\n{tail}")
    return wall


def generate(root: Path, registry: str, served: str, base_url: str, threads: int,
             log: Path) -> float:
    return bfcl(root, registry, served, base_url, ["generate", "--model", registry, "--run-ids",
                                                   "--num-threads", str(threads)], log)


def evaluate(root: Path, registry: str, served: str, categories: list[str], log: Path) -> float:
    return bfcl(root, registry, served, "http://127.0.0.1:9/v1",
                ["evaluate", "--model", registry, "--test-category", ",".join(categories),
                 "--partial-eval"], log)


# --- bfcl's outputs -----------------------------------------------------------------------

def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _find(folder: Path, name: str) -> Path | None:
    return next(iter(sorted(folder.rglob(name))), None)


@dataclass(slots=True)
class Case:
    """One case as bfcl's generation wrote it."""

    id: str
    error: str  # "" or bfcl's "Error during inference: ..." (an HTTP error, for instance)
    seconds: float  # its requests' latencies added up
    requests: int
    prompt_tokens: int  # the largest prompt among its requests
    completion_tokens: int


def _flat(x: Any) -> list[float]:
    if isinstance(x, list):
        return [v for item in x for v in _flat(item)]
    return [float(x)] if isinstance(x, int | float) else []


def cases(root: Path, registry: str, category: str) -> list[Case]:
    path = _find(root / "result" / registry, f"BFCL_v*_{category}_result.json")
    out = []
    for entry in _lines(path) if path else []:
        result = entry.get("result")
        error = result if isinstance(result, str) and result.startswith("Error") else ""
        latency = _flat(entry.get("latency", []))
        prompts = _flat(entry.get("input_token_count", []))
        out.append(Case(entry["id"], error, sum(latency), len(latency),
                        int(max(prompts, default=0)),
                        int(sum(_flat(entry.get("output_token_count", []))))))
    return out


def score(root: Path, registry: str, category: str) -> dict[str, Any] | None:
    """bfcl's score header (accuracy, correct_count, total_count) and the ids it failed."""
    path = _find(root / "score" / registry, f"BFCL_v*_{category}_score.json")
    if path is None:
        return None
    header, *failed = _lines(path)
    return {**header, "failed": [f.get("id") for f in failed]}


# --- servers ------------------------------------------------------------------------------

def llamacpp_server(path: str, threads: int, parallel: int, ctx_size: int) -> Server:
    """llama.cpp's server (xllamacpp), jinja on: `parallel` slots of `ctx_size` cells each."""
    return xserver(path, threads, parallel, ctx_size * parallel, jinja=True)


# --- the child: register, then bfcl's CLI -------------------------------------------------

def register(registry: str, served: str) -> None:
    """A model entry in bfcl-eval's registry: OpenAI chat completions, FC mode."""
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING, ModelConfig
    from bfcl_eval.model_handler.api_inference.openai_completion import (
        OpenAICompletionsHandler,
    )

    MODEL_CONFIG_MAPPING[registry] = ModelConfig(
        model_name=served, display_name=f"{registry} (FC)", url="", org="bench",
        license="", model_handler=OpenAICompletionsHandler, input_price=None,
        output_price=None, is_fc_model=True,
        # the handler sends `a.b` as `a_b` (OpenAI's name pattern); the checker must map back
        underscore_to_dot=True)


def _main(argv: list[str]) -> None:
    registry, served, *args = argv
    register(registry, served)
    from bfcl_eval.__main__ import cli

    cli(args=args, prog_name="bfcl")


if __name__ == "__main__":
    _main(sys.argv[1:])
