"""The context stage (index/context.py, index/context_prompt.py): the query around a cursor,
the budget, and exactly what each form puts in the prompt, first on scripted hits, then
through the Pipeline over a real index (the real embedding model) and a scripted backend
that records the request it was given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from openmini.backends.base import Capabilities
from openmini.errors import InvalidRequest, NotFound, UnsupportedParameter
from openmini.index.context import byte_count, candidates, cursor_query, fit, query_of
from openmini.index.context_prompt import (
    HEADER,
    NEW_MESSAGE_TOKENS,
    ChatForm,
    CommentForm,
    RepoForm,
    files_of,
)
from openmini.index.manager import IndexManager
from openmini.index.search import Hit
from openmini.pipeline import Pipeline, collect
from openmini.types import ChatMessage, Codebase, Request
from server.fake_backend import FakeBackend


def hit(path: str, start: int, end: int, text: str, score: float = 1.0,
        language: str | None = "python") -> Hit:
    return Hit(path, start, end, None, "function", language, score, text)


A = hit("lib/a.py", 1, 2, "def alpha():\n    return 1", 0.9)
B = hit("lib/b.py", 10, 12, "def beta():\n    return 2", 0.8)
C = hit("lib/a.py", 5, 6, "def gamma():\n    return 3", 0.7)


# --- the query -----------------------------------------------------------------------------


def test_the_cursor_query_leads_with_names_near_the_cursor_then_imports() -> None:
    prompt = ("import os\nfrom geometry import shapes\n\n" + "x = 1\n" * 40
              + "def report(points):\n    total = shapes.")
    query = cursor_query(prompt, "(points)\n    print(total)\n")
    lines = query.splitlines()
    assert lines[0].split() == ["total", "shapes", "points", "report", "print"]
    assert lines[1:3] == ["import os", "from geometry import shapes"]
    assert "def report(points):" in lines and "    print(total)" in lines
    assert query.count("x = 1") == 30 - 2  # the window: the last 30 lines of the prompt


def test_a_chat_asks_with_its_last_user_message() -> None:
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "first"),
                ChatMessage("assistant", "ok"), ChatMessage("user", " where are dates? "))
    assert query_of(Request(model="m", messages=messages)) == "where are dates?"
    assert query_of(Request(model="m", messages=(ChatMessage("system", "x"),))) == ""


def test_candidates_leave_out_the_current_file_what_the_prompt_holds_and_overlaps() -> None:
    current = hit("app.py", 1, 3, "def main():\n    run()")
    overlap = hit("lib/a.py", 2, 4, "    return 1\ndef other(): pass", 0.5)
    quoted = hit("lib/q.py", 1, 1, "QUOTED = 1", 0.4)
    request = Request(model="m", prompt="QUOTED = 1\nx = ", suffix="\n")
    kept = candidates([A, current, overlap, quoted, B], request,
                      Codebase("i", path="app.py"))
    assert kept == [A, B]


# --- the budget and the forms --------------------------------------------------------------


def test_fit_takes_the_best_that_fit_skipping_one_too_large() -> None:
    big = hit("lib/big.py", 1, 90, "x = 1\n" * 200, 0.85)
    form = ChatForm(len, ())  # characters: additive, so the estimate is the total
    budget = form.total([A, B])
    assert fit([A, big, B, C], form, budget, k=6) == [A, B]
    assert form.total(fit([A, big, B, C], form, budget, k=6)) <= budget
    assert fit([A, B, C], form, 10 ** 6, k=2) == [A, B]
    assert fit([A], form, form.overhead(), k=6) == []


def test_the_chat_form_is_a_system_message_of_labelled_fenced_snippets() -> None:
    request = Request(model="m", messages=(ChatMessage("user", "q"),))
    done = ChatForm(byte_count, request.messages or ()).apply(request, [A, B])
    assert done.messages is not None and done.messages[1:] == request.messages
    assert done.messages[0] == ChatMessage("system", (
        f"{HEADER}\n\nlib/a.py:1-2\n```python\ndef alpha():\n    return 1\n```\n"
        "\nlib/b.py:10-12\n```python\ndef beta():\n    return 2\n```\n"))
    assert ChatForm(len, ()).total([A, B]) == len(done.messages[0].content) + \
        NEW_MESSAGE_TOKENS


def test_the_chat_form_prepends_to_a_system_message_and_fences_backticks() -> None:
    ticks = hit("doc.md", 1, 3, "```sh\nls\n```", language="markdown")
    request = Request(model="m", messages=(ChatMessage("developer", "Be brief."),
                                           ChatMessage("user", "q")))
    form = ChatForm(byte_count, request.messages or ())
    done = form.apply(request, [ticks])
    assert done.messages is not None
    assert done.messages[0] == ChatMessage("developer", (
        f"{HEADER}\n\ndoc.md:1-3\n````markdown\n```sh\nls\n```\n````\n\nBe brief."))
    assert form.total([ticks]) == len(done.messages[0].content) - len("Be brief.")


def test_the_comment_form_writes_the_snippets_as_comments_before_the_prompt() -> None:
    request = Request(model="m", prompt="x = ", suffix="\n")
    form = CommentForm(byte_count, "python", "x = ")
    done = form.apply(request, [A])
    assert done.prompt == (f"# {HEADER}\n#\n# lib/a.py:1-2\n# def alpha():\n#     return 1\n"
                           "\nx = ")
    assert form.total([A]) == len(done.prompt) - len("x = ")
    assert CommentForm(byte_count, "go", "").text([A]).startswith("// Relevant")
    html = CommentForm(byte_count, "html", "").text([hit("a.html", 1, 1, "<!-- a -->")])
    assert html.startswith("<!--\n") and html.endswith("-->\n\n") and "<!-- a - ->" in html


def test_the_repo_form_groups_a_files_snippets_in_line_order() -> None:
    near = hit("lib/a.py", 3, 3, "DELTA = 4", 0.6)  # touches A's lines, not C's
    assert files_of([A, B, C, near]) == (
        ("lib/a.py", "def alpha():\n    return 1\nDELTA = 4\n...\n"
                     "def gamma():\n    return 3"),
        ("lib/b.py", "def beta():\n    return 2"))
    form = RepoForm(byte_count, "demo", "app.py")
    request = form.apply(Request(model="m", prompt="p", suffix="s"), [A, B])
    assert request.repo_context is not None
    assert request.repo_context.name == "demo" and request.repo_context.path == "app.py"
    assert form.total([A, B]) == form.overhead() + sum(
        1 + byte_count(f"{p}\n{t}\n") for p, t in files_of([A, B]))


# --- through the pipeline, on a real index -------------------------------------------------

REPO = {
    "geometry/shapes.py": 'def measure_outline_length(points):\n    """The perimeter of a '
                          'closed polygon, in millimetres."""\n    return sum(points)\n',
    "http/dates.py": 'def parse_http_date(value):\n    """An HTTP date as a timestamp."""\n'
                     "    return 0\n",
    "app.py": "from geometry import shapes\n\n\ndef report(points):\n    return 0\n",
}


@pytest.fixture
def indexed(manager: IndexManager, tree: Callable[[dict[str, str | bytes]], Path]
            ) -> IndexManager:
    manager.add(tree(dict(REPO)), "demo")
    return manager


async def run(pipeline: Pipeline, request: Request) -> None:
    await collect(pipeline.run(request))


async def test_chat_gets_the_snippets_in_a_system_message_within_the_budget(
        indexed: IndexManager) -> None:
    backend = FakeBackend()
    spec = Codebase("demo", k=1, max_tokens=400)
    request = Request(model="fake", codebase=spec,
                      messages=(ChatMessage("user", "how is a polygon's perimeter measured?"),))
    await run(Pipeline(backend, indexes=indexed), request)
    (sent,) = backend.requests
    assert sent.messages is not None and sent.messages[1:] == request.messages
    system = sent.messages[0]
    assert system.role == "system" and system.content.startswith(HEADER)
    assert "geometry/shapes.py:1-3\n```python\ndef measure_outline_length" in system.content
    assert byte_count(system.content) + NEW_MESSAGE_TOKENS <= 400
    assert [(s.path, s.start_line, s.end_line) for s in spec.sources] == [
        ("geometry/shapes.py", 1, 3)]
    assert spec.sources[0].score > 0


async def test_a_budget_too_small_for_any_snippet_places_nothing(indexed: IndexManager
                                                                 ) -> None:
    backend = FakeBackend()
    spec = Codebase("demo", max_tokens=30)
    request = Request(model="fake", codebase=spec, messages=(ChatMessage("user", "dates"),))
    await run(Pipeline(backend, indexes=indexed), request)
    assert backend.requests[0].messages == request.messages and spec.sources == []


async def test_a_completion_without_repo_format_gets_comments(indexed: IndexManager) -> None:
    backend = FakeBackend(capabilities=Capabilities(fim=True))
    prompt = "from geometry import shapes\n\n\ndef report(points):\n    total = shapes."
    spec = Codebase("demo", k=1, path="app.py")
    request = Request(model="fake", prompt=prompt, suffix="(points)\n", codebase=spec)
    await run(Pipeline(backend, indexes=indexed), request)
    (sent,) = backend.requests
    assert sent.prompt == (f"# {HEADER}\n#\n# geometry/shapes.py:1-3\n"
                           "# def measure_outline_length(points):\n"
                           '#     """The perimeter of a closed polygon, in millimetres."""\n'
                           "#     return sum(points)\n\n" + prompt)
    assert sent.suffix == "(points)\n" and sent.repo_context is None


async def test_a_completion_in_repo_format_gets_the_files(indexed: IndexManager) -> None:
    backend = FakeBackend(capabilities=Capabilities(fim=True, repo_context=True))
    spec = Codebase("demo", k=2, path="app.py")
    request = Request(model="fake", prompt="def report(points):\n    total = shapes.",
                      suffix="(points)\n", codebase=spec)
    await run(Pipeline(backend, indexes=indexed), request)
    (sent,) = backend.requests
    assert sent.prompt == request.prompt and sent.repo_context is not None
    assert sent.repo_context.name == "repo" and sent.repo_context.path == "app.py"
    paths = [p for p, _ in sent.repo_context.files]
    assert paths[0] == "geometry/shapes.py" and "app.py" not in paths
    assert [s.path for s in spec.sources] == paths


async def test_an_unknown_or_bad_index_names_codebase_index(indexed: IndexManager) -> None:
    pipeline = Pipeline(FakeBackend(), indexes=indexed)
    ask = (ChatMessage("user", "q"),)
    with pytest.raises(NotFound) as missing:
        await run(pipeline, Request(model="fake", messages=ask, codebase=Codebase("nope")))
    assert missing.value.param == "codebase.index" and missing.value.status == 404
    with pytest.raises(InvalidRequest) as bad:
        await run(pipeline, Request(model="fake", messages=ask, codebase=Codebase("a b")))
    assert bad.value.param == "codebase.index"
    with pytest.raises(UnsupportedParameter):
        await run(Pipeline(FakeBackend()), replace(Request(model="fake", messages=ask),
                                                   codebase=Codebase("demo")))
