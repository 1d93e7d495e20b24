"""`openmini index add|list|status|update|remove` and `openmini search`: codebase indexes
from the terminal, in the data directory the server uses (docs/index.md).

Exit status: 0 done (a search with no result too: it says so on stderr), 1 an index update
that failed, 2 bad input (an unknown index, a path that is not a directory, a bad name or
filter). Progress goes to stderr; results and objects to stdout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from openmini.index.indexer import UpdateStats
    from openmini.index.manager import IndexManager
    from openmini.index.search import Hit

index_app = typer.Typer(no_args_is_help=True, help="Codebase indexes: add a directory, keep "
                        "it up to date, list, remove (search them with `openmini search`).")

DataDirOpt = Annotated[str | None, typer.Option(
    "--data-dir", help="Where indexes are kept (default: the user data directory, the one "
    "`openmini serve` uses).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
WatchOpt = Annotated[bool, typer.Option(
    "--watch", help="Then follow changes (filesystem events, debounced) until Ctrl-C.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)


def _manager(data_dir: str | None) -> IndexManager:
    from openmini.cli.main import _config
    from openmini.index.manager import IndexManager

    config = _config(data_dir=data_dir)
    return IndexManager.for_config(config, threads=config.engine.threads)


class _Progress:
    """Files read and chunks written, on stderr (a bar on a terminal, nothing otherwise)."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("files, {task.fields[chunks]} chunks"),
                                 console=Console(stderr=True), transient=True)
        self.task: Any = None

    def __call__(self, stats: UpdateStats) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("", total=stats.to_read or None, chunks=0)
        self.progress.update(self.task, completed=stats.read, total=stats.to_read or None,
                             chunks=stats.chunks)

    def close(self) -> None:
        self.progress.stop()


def _summary(name: str, stats: UpdateStats) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(stats.skipped.items()))
    return (f"{name}: {stats.files} files, {stats.read} read, {stats.changed} changed, "
            f"{stats.removed} removed, "
            f"{stats.chunks} chunks written ({stats.embedded} embedded, {stats.reused} "
            f"reused) in {stats.seconds:.1f} s" + (f"; skipped: {skipped}" if skipped else ""))


def _update(manager: IndexManager, name: str) -> None:
    from openmini.errors import OpenMiniError

    bar = _Progress(f"indexing {name}")
    try:
        stats = manager.update(name, progress=bar)
    except OpenMiniError as exc:
        raise _fail(exc.message, 2 if exc.status < 500 else 1) from exc
    except Exception as exc:
        raise _fail(f"indexing {name} failed: {exc}", 1) from exc
    finally:
        bar.close()
    typer.echo(_summary(name, stats), err=True)


def _watch(manager: IndexManager, name: str) -> None:
    from openmini.index.watch import watch

    def report(paths: set[str] | None, stats: UpdateStats) -> None:
        what = "everything (the ignore rules changed)" if paths is None else (
            f"{len(paths)} path(s)")
        typer.echo(f"updated {what}: " + _summary(name, stats), err=True)

    typer.echo(f"watching {manager.get(name).path} (Ctrl-C to stop)", err=True)
    try:
        watch(manager, name, on_update=report)
    except KeyboardInterrupt:
        typer.echo("stopped watching", err=True)


def _guard(call: Any) -> Any:
    """`call()`, with a bad-input error as exit 2."""
    from openmini.errors import OpenMiniError

    try:
        return call()
    except OpenMiniError as exc:
        raise _fail(exc.message, 2 if exc.status < 500 else 1) from exc


@index_app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="The directory to index.")],
    name: Annotated[str | None, typer.Option(
        "--name", help="The index's name (default: the directory's name).")] = None,
    watch: WatchOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Index a directory: its files (by .gitignore, .openminiignore and the built-in
    rules), chunked by definition and embedded; then ready to search."""
    manager = _manager(data_dir)
    try:
        info = _guard(lambda: manager.create(path, name))
        typer.echo(f"added {info.name} ({info.path})", err=True)
        _update(manager, info.name)
        if watch:
            _watch(manager, info.name)
    finally:
        manager.close()


@index_app.command("update")
def update(name: str, watch: WatchOpt = False, data_dir: DataDirOpt = None) -> None:
    """Bring an index up to date: only files whose size or mtime changed are read, only
    those whose content changed are chunked and embedded again."""
    manager = _manager(data_dir)
    try:
        _guard(lambda: manager.get(name))
        _update(manager, name)
        if watch:
            _watch(manager, name)
    finally:
        manager.close()


@index_app.command("list")
def list_indexes(as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """The indexes: name, status, files, chunks, directory."""
    manager = _manager(data_dir)
    try:
        infos = manager.list()
    finally:
        manager.close()
    if as_json:
        typer.echo(json.dumps({"object": "list", "data": [i.to_dict() for i in infos]},
                              indent=2))
        return
    if not infos:
        typer.echo("no indexes (add one: openmini index add PATH)", err=True)
    for i in infos:
        typer.echo(f"{i.name}  {i.status:<8}  {i.files} files  {i.chunks} chunks  {i.path}")


@index_app.command("status")
def status(name: str, as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """One index: its directory, status (indexing, ready, failed, with the error), counts."""
    manager = _manager(data_dir)
    try:
        info = _guard(lambda: manager.get(name))
    finally:
        manager.close()
    body = info.to_dict()
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    for key, value in body.items():
        if value is not None:
            typer.echo(f"{key}: {value}")


@index_app.command("remove")
def remove(name: str, data_dir: DataDirOpt = None) -> None:
    """Delete an index (the directory it indexed is not touched)."""
    manager = _manager(data_dir)
    try:
        _guard(lambda: manager.remove(name))
    finally:
        manager.close()
    typer.echo(f"removed {name}", err=True)


def _default_index(manager: IndexManager) -> str:
    """The only index; else the one whose directory holds the current one (the deepest)."""
    names = manager.names()
    if not names:
        raise _fail("no indexes: add one with `openmini index add PATH`")
    if len(names) == 1:
        return names[0]
    here = Path(os.getcwd()).resolve()
    holding = [(len(Path(i.path).parts), i.name) for i in manager.list()
               if here == Path(i.path) or Path(i.path) in here.parents]
    if holding:
        return max(holding)[1]
    raise _fail(f"several indexes ({', '.join(names)}): name one with --index")


def search(
    query: Annotated[str, typer.Argument(help="What to look for: words, names, a question.")],
    index: Annotated[str | None, typer.Option(
        "--index", help="The index (default: the only one, or the one holding the current "
        "directory).")] = None,
    k: Annotated[int, typer.Option("-k", help="How many results (1-100).")] = 10,
    path: Annotated[str | None, typer.Option(
        "--path", help="Only paths matching this glob (or under this directory).")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Only this language.")
                        ] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only this kind: function, method, class, ..., code, window.")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="hybrid (default), bm25 (words only) or vector (meaning only).")
                    ] = "hybrid",
    as_json: Annotated[bool, typer.Option(
        "--json", help='{"data": [{"path", "start_line", "end_line", "symbol", "kind", '
        '"language", "score", "text"}]} on stdout.')] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Search an index by words and meaning: path:line, symbol and a highlighted snippet
    per result, best first."""
    manager = _manager(data_dir)
    try:
        name = index or _default_index(manager)
        hits = _guard(lambda: manager.search(name, query, k, mode=mode, path=path,
                                             language=language, kind=kind))
    finally:
        manager.close()
    if as_json:
        typer.echo(json.dumps({"data": [h.to_dict() for h in hits]}, indent=2))
    elif not hits:
        typer.echo("no results", err=True)
    else:
        _show(hits, query)


def _show(hits: list[Hit], query: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    from openmini.index.idents import query_terms

    console = Console(highlight=False, soft_wrap=True)
    terms = [t for t in query_terms(query) if len(t) > 1]
    for hit in hits:
        where = f"[bold cyan]{escape(hit.path)}:{hit.start_line}[/]"
        symbol = f"  [bold]{escape(hit.symbol)}[/]" if hit.symbol else ""
        console.print(f"{where}{symbol}  [dim]{hit.kind} {hit.score:.4f}[/]")
        text = Text(snippet(hit.text, terms))
        text.highlight_words(terms, style="bold yellow", case_sensitive=False)
        text.pad_left(4)
        console.print(text)
        console.print()


def snippet(text: str, terms: list[str], lines: int = 6) -> str:
    """The `lines` consecutive lines of a chunk with the most query terms in them, the
    first such line second (its first lines when none has one), indented; `...` marks
    lines left out after them."""
    rows = text.split("\n")
    if len(rows) <= lines:
        return "\n    ".join(rows)
    hits = [sum(t in row.lower() for t in terms) for row in rows]
    sums = [sum(hits[i:i + lines]) for i in range(len(rows) - lines + 1)]
    best = [i for i, n in enumerate(sums) if n == max(sums)]
    start = best[0]
    if sums[start]:
        first_hit = next(j for j in range(start, len(rows)) if hits[j])
        start = first_hit - 1 if first_hit - 1 in best else start
    body = rows[start:start + lines]
    if start + lines < len(rows):
        body.append("...")
    return "\n    ".join(body)


def register(app: typer.Typer) -> None:
    """Add `index` and `search` to `app`."""
    app.add_typer(index_app, name="index")
    app.command("search")(search)
