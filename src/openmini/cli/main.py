"""The `openmini` command: serve, chat, run, complete, models, index, search."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from openmini.cli.batch_cmd import batch_app
from openmini.cli.code_cmd import code_app
from openmini.reasoning.effort import EFFORTS

Effort = Enum("Effort", {e: e for e in EFFORTS}, type=str)  # type: ignore[misc]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="openmini: a small open-weight model behind an OpenAI-compatible API.")
app.add_typer(batch_app, name="batch")
app.add_typer(code_app, name="code")

ModelOpt = Annotated[str, typer.Option("--model", "-m",
                                       help="Model alias (default, fast, tiny) or a .gguf path.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads (default: all).")]
ParallelOpt = Annotated[int | None, typer.Option("--parallel",
                                                 help="Concurrent sequences decoded together.")]
CtxOpt = Annotated[int | None, typer.Option(
    "--ctx-size", help="Context length per sequence (default 8192).")]
EffortOpt = Annotated[Effort | None, typer.Option(
    "--reasoning-effort", help="Think first: none, minimal, low, medium or high (the "
    "reasoning goes to stderr).")]


@contextmanager
def assembly_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, shown only if a model actually needs assembling."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        DownloadColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    task: list[Any] = []

    def update(done: int, total: int) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task("assembling model", total=total))
        progress.update(task[0], completed=done)

    try:
        yield update
    finally:
        progress.stop()


class CodeCheckMode(StrEnum):
    report = "report"
    repair = "repair"


CodeCheckOpt = Annotated[CodeCheckMode | None, typer.Option(
    "--code-check", help="Parse the code blocks of the answer: report their syntax errors "
    "on stderr, or repair the blocks that do not parse (held back until they do).")]


def _config(path: Path | None = None, **flags: Any) -> Any:
    """The configuration, or a one-line error (exit 2) for a bad file, variable or value.
    `path`: the --config file; OPENMINI_CONFIG names one otherwise."""
    from rich.console import Console
    from rich.markup import escape

    from openmini.config import load_config

    try:
        return load_config(path or os.environ.get("OPENMINI_CONFIG"), overrides=flags)
    except (ValueError, OSError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] configuration: {escape(str(exc))}")
        raise typer.Exit(code=2) from exc


@app.command()
def serve(
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Model alias (default, fast, tiny) or a .gguf path; repeat it to "
        "serve several local models, each its own engine (the first takes --mmproj).")] = None,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="A TOML config file (OPENMINI_CONFIG otherwise): engine settings, "
        "providers and groups tables (docs/routing.md).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on.")] = None,
    threads: ThreadsOpt = None,
    parallel: ParallelOpt = None,
    ctx_size: CtxOpt = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="OPENMINI_API_KEY",
        help="Require this bearer key on /v1 and /metrics.")] = None,
    max_queue: Annotated[int | None, typer.Option(
        "--max-queue", help="Requests allowed to wait; beyond, 429.")] = None,
    no_image_urls: Annotated[bool, typer.Option(
        "--no-image-urls", help="Refuse every http(s) image URL.")] = False,
    image_domains: Annotated[str | None, typer.Option(
        "--image-domains", help="Only these hosts for image URLs (D,...; .example.com "
        "takes subdomains).")] = None,
    image_allow_hosts: Annotated[str | None, typer.Option(
        "--image-allow-hosts", help="Hosts or addresses let through although private "
        "(H,...; none by default).")] = None,
    image_roots: Annotated[str | None, typer.Option(
        "--image-roots", help="Directories file:// image URLs may read under (DIR,...; "
        "nowhere by default).")] = None,
    mmproj: Annotated[str | None, typer.Option(
        "--mmproj", help="A vision projector GGUF for the model: it sees images natively."
        )] = None,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", help="Where files, batches and codebase indexes are kept (default: "
        "the user data directory).")] = None,
    no_embeddings: Annotated[bool, typer.Option(
        "--no-embeddings", help="Serve no embedding model (POST /v1/embeddings).")] = False,
    index_roots: Annotated[str | None, typer.Option(
        "--index-roots", help="Directories API clients may index under (POST /v1/indexes; "
        "DIR,...; nowhere by default).")] = None,
) -> None:
    """Start the HTTP server (OpenAI and Anthropic APIs) for local models and upstream
    providers, and the embedding model (assembles each local model on first use)."""
    from openmini.engine.embed import open_embedders
    from openmini.router.build import build_router
    from openmini.server.run import serve as run_server

    given = model or []
    config = _config(config_file, model=given[0] if given else None,
                     models=tuple(given[1:]) or None, host=host,
                     port=port, threads=threads, parallel=parallel, ctx_size=ctx_size,
                     api_key=api_key, max_queue=max_queue,
                     no_image_urls=no_image_urls or None, image_domains=image_domains,
                     image_allow_hosts=image_allow_hosts, image_roots=image_roots,
                     mmproj=mmproj, data_dir=data_dir, index_roots=index_roots,
                     embeddings=False if no_embeddings else None)
    cache_dir = config.model_cache_path()
    with assembly_progress() as progress:
        embedders = open_embedders(config, cache_dir, progress)
        try:
            router = build_router(config, cache_dir=cache_dir, progress=progress)
        except BaseException:
            for embedder in embedders.values():
                embedder.close()
            raise
    run_server(config, router, embedders)


def _client(model: str, threads: int | None, parallel: int | None, ctx_size: int | None,
            data_dir: str | None = None) -> Any:
    from openmini.api import AsyncOpenMini

    engine = _config(model=model, threads=threads, parallel=parallel, ctx_size=ctx_size).engine
    fields = {k: getattr(engine, k) for k in ("threads", "parallel", "ctx_size", "batch_size",
                                              "prefix_cache_tokens", "max_queue")}
    with assembly_progress() as progress:
        return AsyncOpenMini(engine.model, progress=progress, data_dir=data_dir, **fields)


@app.command()
def run(
    prompt: Annotated[str | None, typer.Argument(help="The prompt; stdin is appended.")] = None,
    model: ModelOpt = "default",
    system: Annotated[str | None, typer.Option("--system", help="System message.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.7,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    reasoning_effort: EffortOpt = None,
    code_check: CodeCheckOpt = None,
    threads: ThreadsOpt = None,
    ctx_size: CtxOpt = None,
    image: Annotated[list[Path] | None, typer.Option(
        "--image", exists=True, dir_okay=False, readable=True,
        help="An image to ask about (repeat for several).")] = None,
) -> None:
    """Answer one prompt and exit; streams to stdout, reads stdin when piped."""
    import asyncio

    from openmini.cli.session import one_shot

    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    text = "\n\n".join(p for p in (prompt, stdin.strip()) if p)
    if not text:
        raise typer.BadParameter("give a prompt or pipe one on stdin", param_hint="PROMPT")
    client = _client(model, threads, 1, ctx_size)
    asyncio.run(one_shot(client, text, system, dict(
        max_tokens=max_tokens, temperature=temperature, seed=seed,
        reasoning_effort=reasoning_effort and reasoning_effort.value,
        code_check=code_check and {"mode": code_check.value}), image or ()))


@app.command()
def chat(
    model: ModelOpt = "default",
    system: Annotated[str | None, typer.Option("--system", help="System message.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.7,
    reasoning_effort: EffortOpt = None,
    code_check: CodeCheckOpt = None,
    threads: ThreadsOpt = None,
    ctx_size: CtxOpt = None,
) -> None:
    """Interactive multi-turn chat in the terminal, streaming. Slash commands: /image PATH,
    /system TEXT, /clear, /help, /exit (Ctrl-D leaves too)."""
    import asyncio

    from openmini.cli.session import interactive

    client = _client(model, threads, 1, ctx_size)
    effort = reasoning_effort.value if reasoning_effort else None
    check = code_check and {"mode": code_check.value}
    asyncio.run(interactive(client, system, dict(temperature=temperature, max_tokens=max_tokens,
                                                 reasoning_effort=effort, code_check=check)))


@app.command()
def complete(
    file: Annotated[Path, typer.Argument(help="The source file to fill in.")],
    line: Annotated[int, typer.Option("--line", "-l", help="The cursor's line (1-based): "
                                      "its start, or --column.")],
    column: Annotated[int, typer.Option("--column", "-c", help="The cursor's column "
                                        "(1-based, before that character).")] = 1,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="A model with fill-in-the-middle tokens: default (the "
        "default), fast (not tiny), or a .gguf path; with --base-url, an id the server "
        "serves (default: its first).")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Tokens at most.")] = 256,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.0,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Ask this server (its API root, with /v1) instead of a model in "
        "this process.")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="OPENMINI_API_KEY", help="The server's bearer key.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='{"text", "finish_reason", "usage"} (and "context" with --index) '
        "instead of the text.")] = False,
    index: Annotated[str | None, typer.Option(
        "--index", help="Put code retrieved from this codebase index in the prompt.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Snippets at most.")] = 6,
    context_tokens: Annotated[int, typer.Option(
        "--context-tokens", min=1, help="Prompt tokens the snippets may take.")] = 2048,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", help="Where the index is (default: the user data directory); not with "
        "--base-url.")] = None,
    threads: ThreadsOpt = None,
    ctx_size: CtxOpt = None,
) -> None:
    """Fill in the middle: FILE is split at the cursor, the model writes what goes between
    (it stops where the text after the cursor begins), and the middle is printed to stdout
    exactly (nothing added). Exit 2 on an unreadable file or a line or column out of range,
    1 when the model or server refuses."""
    import asyncio

    from openmini.cli.complete_cmd import (
        codebase,
        complete_here,
        complete_remote,
        fail,
        read_file,
        split_at,
        write,
    )
    from openmini.errors import OpenMiniError

    try:
        prompt, suffix = split_at(read_file(file), line, column)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    sampling: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
    if index is not None:
        sampling["codebase"] = codebase(index, k, context_tokens)
    if base_url is not None and data_dir is not None:
        raise fail("--data-dir is for a model in this process; a server (--base-url) "
                   "searches its own indexes", 2)
    if base_url is not None:
        write(complete_remote(base_url, api_key, model, prompt, suffix, sampling, file),
              as_json)
        return
    client = _client(model or "default", threads, 1, ctx_size, data_dir)
    try:
        write(asyncio.run(complete_here(client, prompt, suffix, sampling, file)), as_json)
    except OpenMiniError as exc:
        raise fail(exc.message, 1) from exc


@batch_app.command("run")
def batch_run(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                           help="A JSONL file of requests (OpenAI's format).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Every line's result, in "
                                         "input order (its state: OUTPUT.state/).")],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Run every line on this model (an alias, a .gguf path, or an "
        "id the --config file serves); default: the config's model.")] = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="Default: the first line's url.")] = None,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="A TOML config file (providers, groups: docs/routing.md).")] = None,
    threads: ThreadsOpt = None,
    parallel: ParallelOpt = None,
    ctx_size: CtxOpt = None,
) -> None:
    """Run a batch file here, with no server; run the same command again after a crash and
    it goes on where it stopped."""
    from openmini.cli.batch_cmd import run_offline
    from openmini.router.build import build_router

    config = _config(config_file, threads=threads, parallel=parallel, ctx_size=ctx_size)
    local = model is not None and model not in {p.name for p in config.providers} and not any(
        model in p.models for p in config.providers) and model not in {
        g.name for g in config.groups}
    if local:  # a local model to load: it serves the lines
        config = _config(config_file, model=model, threads=threads, parallel=parallel,
                         ctx_size=ctx_size)
    cache_dir = config.model_cache_path()
    with assembly_progress() as progress:
        router = build_router(config, cache_dir=cache_dir, progress=progress)
    served_as = Path(model).stem if model and model.endswith(".gguf") else model
    raise typer.Exit(code=run_offline(config, router, source, output, served_as, endpoint))


def _register_models() -> None:
    from openmini.cli.index_cmd import register as register_index
    from openmini.cli.models_cmd import register

    register(app)
    register_index(app)


_register_models()

if __name__ == "__main__":
    app()
