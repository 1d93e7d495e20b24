"""`openmini complete FILE --line N [--column C]`: fill in the middle of a file at a cursor.

The file is split at the cursor (the start of line N, or before column C of it): the text
before is the prompt, the text after the suffix (none at the end of the file). The middle is
asked of a model in this process (the library's pipeline, as `openmini run` does), or of a
server's /v1/completions with `--base-url`, and written to stdout exactly as it is. With
`--index`, code retrieved from that codebase index goes into the prompt (`codebase`; the
file itself, when it lies under the index's root, is named as the current file and never
retrieved); `--json` then lists it as `context`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer


@dataclass(frozen=True, slots=True)
class Middle:
    text: str
    finish_reason: str | None
    usage: dict[str, int]
    context: list[dict[str, Any]] | None = None  # with --index: the code placed

    def as_json(self) -> str:
        out: dict[str, Any] = {"text": self.text, "finish_reason": self.finish_reason,
                               "usage": self.usage}
        if self.context is not None:
            out["context"] = self.context
        return json.dumps(out)


def codebase(index: str, k: int, max_tokens: int) -> dict[str, Any]:
    """The request's `codebase` (its `path` is filled in once the index's root is known)."""
    return {"index": index, "k": k, "max_tokens": max_tokens}


def with_path(spec: dict[str, Any], file: Path, root: str) -> dict[str, Any]:
    """`spec` naming `file` as the current file when it lies under the index's `root`."""
    try:
        relative = file.resolve().relative_to(Path(root).resolve())
    except ValueError:
        return spec
    return {**spec, "path": relative.as_posix()}


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)


def read_file(path: Path) -> str:
    """The file's text; unreadable or not UTF-8 exits 2."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot read as UTF-8 text: {exc}", 2) from exc


def split_at(text: str, line: int, column: int = 1) -> tuple[str, str]:
    """(before, after) the cursor: before column `column` of line `line` (both 1-based).
    A line one past the last exists when the file ends with a line break (or is empty).
    A line or column out of range is a ValueError that says which."""
    lines = text.splitlines(keepends=True)
    count = len(lines) + (1 if not text or text.endswith(("\n", "\r")) else 0)
    if not 1 <= line <= count:
        raise ValueError(f"--line must be between 1 and {count}, not {line}")
    body = lines[line - 1].rstrip("\r\n") if line <= len(lines) else ""
    if not 1 <= column <= len(body) + 1:
        raise ValueError(f"--column must be between 1 and {len(body) + 1} on line {line}, "
                         f"not {column}")
    at = sum(len(text_line) for text_line in lines[:line - 1]) + column - 1
    return text[:at], text[at:]


async def complete_here(client: Any, prompt: str, suffix: str, sampling: dict[str, Any],
                        file: Path) -> Middle:
    """The middle from a model in this process (an AsyncOpenMini), which is closed after."""
    import asyncio

    try:
        spec = sampling.get("codebase")
        if spec is not None:
            info = await asyncio.to_thread(client.indexes.get, spec["index"])
            sampling = {**sampling, "codebase": with_path(spec, file, info.path)}
        request = replace(client.request(prompt=prompt, **sampling), suffix=suffix or None)
        done = await client.run(request)
    finally:
        await client.close()
    u = done.usage
    context = [c.to_dict() for c in done.context] if spec is not None else None
    return Middle(done.text, done.choices[0].finish_reason,
                  {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                   "total_tokens": u.total_tokens}, context)


def complete_remote(base_url: str, api_key: str | None, model: str | None, prompt: str,
                    suffix: str, sampling: dict[str, Any], file: Path) -> Middle:
    """The middle from a server's /v1/completions (`model`: its first model when None)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=300) as http:
            if model is None:
                model = _answer(http.get("/models"))["data"][0]["id"]
            body = {"model": model, "prompt": prompt, **sampling}
            if suffix:
                body["suffix"] = suffix
            spec = sampling.get("codebase")
            if spec is not None:
                info = _answer(http.get(f"/indexes/{spec['index']}"))
                body["codebase"] = with_path(spec, file, info["path"])
            data = _answer(http.post("/completions", json=body))
            choice, usage = _first(data)
    except httpx.HTTPError as exc:
        raise fail(f"{base_url}: {exc}", 1) from exc
    context = data.get("context") if spec is not None else None
    return Middle(choice["text"], choice.get("finish_reason"), usage, context)


def _answer(response: Any) -> Any:
    """A response's JSON; an error status exits 1 with the server's message."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else response.text
        raise fail(f"{response.status_code}: {message}", 1)
    return data


def _first(data: Any) -> tuple[dict[str, Any], dict[str, int]]:
    usage = data.get("usage") or {}
    return data["choices"][0], {k: int(usage.get(k, 0)) for k in (
        "prompt_tokens", "completion_tokens", "total_tokens")}


def write(middle: Middle, as_json: bool) -> None:
    if as_json:
        typer.echo(middle.as_json())
        return
    sys.stdout.write(middle.text)
    sys.stdout.flush()
