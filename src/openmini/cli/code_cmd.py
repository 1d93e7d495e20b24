"""`openmini code outline FILE`, `openmini code check FILE...` and `openmini code equivalent A B`:
code as syntax trees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from openmini.code.languages import Language

code_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Code as syntax trees: outlines, syntax checks and structural "
                       "equivalence, offline.")

LanguageOpt = Annotated[str | None, typer.Option(
    "--language", "-l", help="The language (python, js, go, ...); default: from the file's "
    "extension, else detected.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _load(path: Path, language: str | None) -> tuple[str, Language]:
    """A file's text and language; an unreadable file or unknown language exits 2."""
    from openmini.code.languages import language_for, language_for_path
    from openmini.code.parse import detect, encode
    from openmini.errors import InvalidRequest

    try:
        code = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read as UTF-8 text: {exc}") from exc
    try:
        encode(code, param=str(path))
        if language is not None:
            return code, language_for(language)
        return code, language_for_path(path) or detect(code)
    except InvalidRequest as exc:
        raise _fail(exc.message) from exc


@code_app.command("outline")
def outline_cmd(
    file: Annotated[Path, typer.Argument(help="The source file.")],
    language: LanguageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The outline object as JSON.")] = False,
) -> None:
    """The symbols a file defines, one per line, indented by nesting, with line numbers."""
    from openmini.code.outline import outline

    code, lang = _load(file, language)
    result = outline(code, lang)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    enclosing: list[tuple[int, int]] = []  # the ends of the symbols around this one
    for sym in result["symbols"]:
        start = (sym["start"]["line"], sym["start"]["column"])
        while enclosing and enclosing[-1] < start:
            enclosing.pop()
        indent = "  " * len(enclosing)
        typer.echo(f"{sym['start']['line']:>5}  {indent}{sym['kind']} {sym['name']}")
        enclosing.append((sym["end"]["line"], sym["end"]["column"]))


@code_app.command("check")
def check_cmd(
    files: Annotated[list[Path], typer.Argument(help="The source files.")],
    language: LanguageOpt = None,
) -> None:
    """Syntax errors as `path:line:column: message`; exit 1 on any, 2 on an unreadable file
    or unknown language, 0 otherwise."""
    from openmini.code.parse import parse

    failed = False
    for path in files:
        code, lang = _load(path, language)
        for d in parse(code, lang, param=str(path)).diagnostics:
            failed = True
            typer.echo(f"{path}:{d['line']}:{d['column']}: {d['message']}")
    raise typer.Exit(code=1 if failed else 0)


@code_app.command("equivalent")
def equivalent_cmd(
    a: Annotated[Path, typer.Argument(help="The first source file.")],
    b: Annotated[Path, typer.Argument(help="The second source file.")],
    language: LanguageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The result object as JSON.")] = False,
) -> None:
    """Whether two files differ only in layout, comments and a consistent renaming of local
    variables: prints `equivalent`, or the first difference as `A:line:col <-> B:line:col:
    kind`. Exit 0 equivalent, 1 not, 2 on an unreadable file or unknown language. The
    language: --language, else A's name or extension, else detected from A."""
    from openmini.code.equivalent import equivalent

    code_a, lang = _load(a, language)
    code_b, _ = _load(b, lang.name)
    result = equivalent(code_a, code_b, lang.name)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif (diff := result["difference"]) is None:
        typer.echo("equivalent")
    else:
        sa, sb = diff["a"]["start"], diff["b"]["start"]
        typer.echo(f"{a}:{sa['line']}:{sa['column']} <-> {b}:{sb['line']}:{sb['column']}: "
                   f"{diff['kind']}")
    raise typer.Exit(code=0 if result["equivalent"] else 1)
