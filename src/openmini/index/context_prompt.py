"""Where retrieved code goes in a prompt, and what it costs there (index/context.py picks
the snippets; a form places them and counts the tokens it adds).

- Chat (`ChatForm`): a system message, `Relevant code from the repository:` then each
  snippet labelled `path:start-end` above a fenced block in its language; prepended to the
  conversation's first message when that is a system (or developer) message, else a new
  first message (`NEW_MESSAGE_TOKENS` reserved for the template's markup around it).
- Completions in the model's repository format (`RepoForm`): Request.repo_context, the
  backend writes `<|repo_name|>`, `<|file_sep|>` (engine/fim.py). Snippets of one file are
  one file, in line order, a `...` line between parts that do not touch. The current file
  is `codebase.path`, else `untitled` with the best snippet's extension.
- Other completions (`CommentForm`): the same labelled snippets as comments of the current
  file's language (`codebase.path`'s, else the best snippet's), then a blank line, before
  the prompt (and so before a fill-in-the-middle prefix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import PurePosixPath
from typing import Protocol

from openmini.code.languages import language_for_path
from openmini.index.search import Hit
from openmini.types import ChatMessage, Codebase, RepoContext, Request

Count = Callable[[str], int]
HEADER = "Relevant code from the repository:"
NEW_MESSAGE_TOKENS = 8  # a system message's own markup (Qwen's: 5 tokens)
GAP = "..."

LINE_COMMENTS = {
    "#": "python ruby bash yaml toml r perl elixir julia nix make dockerfile powershell "
         "graphql",
    "--": "sql lua haskell elm",
    ";;": "clojure",
    "%": "erlang",
    "!": "fortran",
}
_LINE = {lang: mark for mark, langs in LINE_COMMENTS.items() for lang in langs.split()}
_BLOCK = {"html": ("<!--", "-->"), "xml": ("<!--", "-->"), "markdown": ("<!--", "-->"),
          "vue": ("<!--", "-->"), "svelte": ("<!--", "-->"), "css": ("/*", "*/"),
          "ocaml": ("(*", "*)")}


class Form(Protocol):
    def overhead(self) -> int:
        """Tokens placed whatever the snippets."""
        ...

    def cost(self, hit: Hit) -> int:
        """About what one snippet adds (the whole is counted by `total`)."""
        ...

    def total(self, hits: list[Hit]) -> int:
        """The tokens placing `hits` adds, exactly as counted."""
        ...

    def apply(self, request: Request, hits: list[Hit]) -> Request: ...


def label(hit: Hit) -> str:
    return f"{hit.path}:{hit.start_line}-{hit.end_line}"


def fenced(hit: Hit) -> str:
    fence = "```"
    while fence in hit.text:
        fence += "`"
    return f"\n{label(hit)}\n{fence}{hit.language or ''}\n{hit.text}\n{fence}\n"


class ChatForm:
    def __init__(self, count: Count, messages: tuple[ChatMessage, ...]):
        self.count = count
        first = messages[0] if messages else None
        self.system = first if first and first.role in ("system", "developer") else None

    def text(self, hits: list[Hit]) -> str:
        body = HEADER + "\n" + "".join(fenced(h) for h in hits)
        return body if self.system is None else f"{body}\n{self.system.content}"

    def overhead(self) -> int:
        return self.count(HEADER + "\n") + (1 if self.system else NEW_MESSAGE_TOKENS)

    def cost(self, hit: Hit) -> int:
        return self.count(fenced(hit))

    def total(self, hits: list[Hit]) -> int:
        if self.system is None:
            return self.count(self.text(hits)) + NEW_MESSAGE_TOKENS
        return self.count(self.text(hits)) - self.count(self.system.content)

    def apply(self, request: Request, hits: list[Hit]) -> Request:
        messages = request.messages or ()
        if self.system is None:
            return replace(request, messages=(ChatMessage("system", self.text(hits)),
                                              *messages))
        first = replace(self.system, content=self.text(hits))
        return replace(request, messages=(first, *messages[1:]))


def files_of(hits: list[Hit]) -> tuple[tuple[str, str], ...]:
    """(path, text) per file, files in the order of their best snippet, snippets of a file
    in line order (a `...` line between parts that do not touch)."""
    by_path: dict[str, list[Hit]] = {}
    for hit in hits:
        by_path.setdefault(hit.path, []).append(hit)
    out = []
    for path, parts in by_path.items():
        parts.sort(key=lambda h: h.start_line)
        text = parts[0].text
        for before, part in pairwise(parts):
            joint = "\n" if part.start_line <= before.end_line + 1 else f"\n{GAP}\n"
            text += joint + part.text
        out.append((path, text))
    return tuple(out)


class RepoForm:
    def __init__(self, count: Count, name: str, current: str):
        self.count, self.name, self.current = count, name, current

    def overhead(self) -> int:
        return 2 + self.count(self.name + "\n") + self.count(self.current + "\n")

    def cost(self, hit: Hit) -> int:
        return 1 + self.count(f"{hit.path}\n{hit.text}\n")

    def total(self, hits: list[Hit]) -> int:
        return self.overhead() + sum(1 + self.count(f"{path}\n{text}\n")
                                     for path, text in files_of(hits))

    def apply(self, request: Request, hits: list[Hit]) -> Request:
        return replace(request, repo_context=RepoContext(self.name, files_of(hits),
                                                         self.current))


class CommentForm:
    def __init__(self, count: Count, language: str | None, prompt: str):
        self.count, self.prompt = count, prompt
        self.block = _BLOCK.get(language or "")
        self.mark = "" if self.block else _LINE.get(language or "", "//")

    def _line(self, line: str) -> str:
        if self.block:
            close = self.block[1]
            return line.replace(close, f"{close[0]} {close[1:]}") + "\n"
        return f"{self.mark} {line}".rstrip() + "\n"

    def snippet(self, hit: Hit) -> str:
        return "".join(self._line(line) for line in ["", label(hit),
                                                      *hit.text.splitlines()])

    def text(self, hits: list[Hit]) -> str:
        body = self._line(HEADER) + "".join(self.snippet(h) for h in hits)
        if self.block:
            body = f"{self.block[0]}\n{body}{self.block[1]}\n"
        return body + "\n"

    def overhead(self) -> int:
        return self.count(self.text([]))

    def cost(self, hit: Hit) -> int:
        return self.count(self.snippet(hit))

    def total(self, hits: list[Hit]) -> int:
        return self.count(self.text(hits) + self.prompt) - self.count(self.prompt)

    def apply(self, request: Request, hits: list[Hit]) -> Request:
        return replace(request, prompt=self.text(hits) + self.prompt)


def form_for(request: Request, spec: Codebase, repo_name: str, repo_format: bool,
             count: Count, hits: list[Hit]) -> Form:
    """How `request` takes retrieved code (see the module's docstring)."""
    if request.messages is not None:
        return ChatForm(count, request.messages)
    best = hits[0].path if hits else ""
    if repo_format:
        current = spec.path or "untitled" + PurePosixPath(best).suffix
        return RepoForm(count, repo_name, current)
    lang = language_for_path(spec.path) if spec.path else None
    language = lang.name if lang else (hits[0].language if hits else None)
    return CommentForm(count, language, request.prompt or "")
