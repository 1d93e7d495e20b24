"""Search (index/search.py) on a small repository indexed with the real embedding model:
split identifiers in BM25, hostile queries, reciprocal-rank fusion, filters, modes and the
400s and 404s of bad parameters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from openmini.errors import InvalidRequest, NotFound
from openmini.index.manager import IndexManager
from openmini.index.search import rrf

pytestmark = pytest.mark.model  # the real embedding model

Tree = Callable[[dict[str, str | bytes]], Path]

FILES: dict[str, str | bytes] = {
    "http/dates.py": ('def parseHttpDate(value):\n    """Turn an RFC 7231 date header into a '
                      'timestamp."""\n    return 0\n'),
    "util/strings.py": ('def split_words(text):\n    """Break a sentence into its words."""\n'
                        "    return text.split()\n\n\nclass Cleaner:\n"
                        "    def strip_tags(self, html):\n        return html\n"),
    "web/app.js": "function renderPage(user) {\n  return `<h1>${user.name}</h1>`;\n}\n",
    "srv/main.go": ("package main\n\n// ListenAndServe starts the HTTP server.\n"
                    "func ListenAndServe(addr string) error {\n\treturn nil\n}\n"),
    "README.md": "# Demo\n\nA tiny repository for search tests.\n",
}


@pytest.fixture
def indexed(manager: IndexManager, tree: Tree) -> IndexManager:
    manager.add(tree(FILES), "demo")
    return manager


def top(manager: IndexManager, query: str, **kw: object) -> list[tuple[str, str | None]]:
    return [(h.path, h.symbol) for h in manager.search("demo", query, **kw)]  # type: ignore


def test_split_identifiers_are_found_by_their_words(indexed: IndexManager) -> None:
    for query in ("parse http date", "parse_http_date", "ParseHTTPDate", "parsehttpdate"):
        assert top(indexed, query, k=1, mode="bm25") == [("http/dates.py", "parseHttpDate")]
    assert top(indexed, "split words", k=1, mode="bm25") == [("util/strings.py",
                                                              "split_words")]
    assert top(indexed, "splitWords", k=1, mode="bm25") == [("util/strings.py",
                                                             "split_words")]


@pytest.mark.parametrize("query", ['"', "*", "NEAR(parse date)", "parse AND OR NOT date",
                                   "((((", "-x:y", '"unterminated', "^body:", "{a b}",
                                   "'; DROP TABLE chunks; --", "_", "date*", "\\"])
def test_hostile_queries_do_not_fail(indexed: IndexManager, query: str) -> None:
    for mode in ("bm25", "hybrid"):
        indexed.search("demo", query, 3, mode=mode)
    assert indexed.get("demo").chunks > 0  # the table is still there


def test_vectors_find_by_meaning(indexed: IndexManager) -> None:
    assert top(indexed, "break a sentence into words", k=1, mode="vector") == [
        ("util/strings.py", "split_words")]
    hits = indexed.search("demo", "start the web server", 3, mode="hybrid")
    assert hits[0].symbol == "ListenAndServe" and hits[0].start_line == 3
    assert hits[0].language == "go" and hits[0].kind == "function"
    assert 0 < hits[0].score <= 2 / 61 and hits[0].score >= hits[1].score


def test_results_have_the_contract_shape(indexed: IndexManager) -> None:
    hit = indexed.search("demo", "render page", 1)[0].to_dict()
    assert set(hit) == {"path", "start_line", "end_line", "symbol", "kind", "language",
                        "score", "text"}
    assert hit["path"] == "web/app.js" and (hit["start_line"], hit["end_line"]) == (1, 3)
    assert hit["text"].startswith("function renderPage(user) {")


def test_filters(indexed: IndexManager) -> None:
    for mode in ("bm25", "vector", "hybrid"):
        found = indexed.search("demo", "http server date", 10, mode=mode, path="srv/*.go")
        assert found and {h.path for h in found} == {"srv/main.go"}
        found = indexed.search("demo", "words tags", 10, mode=mode, path="util")
        assert found and {h.path for h in found} == {"util/strings.py"}
        found = indexed.search("demo", "server", 10, mode=mode, language="golang")
        assert found and {h.language for h in found} == {"go"}
        found = indexed.search("demo", "strip tags", 10, mode=mode, kind="method")
        assert [h.symbol for h in found] == ["Cleaner.strip_tags"]
        assert indexed.search("demo", "anything", 10, mode=mode, path="nowhere/*") == []


@pytest.mark.parametrize(("kw", "param"), [
    ({"query": ""}, "query"), ({"query": "  "}, "query"), ({"k": 0}, "k"), ({"k": 101}, "k"),
    ({"mode": "fuzzy"}, "mode"), ({"language": "klingon"}, "language"),
    ({"kind": "lambda"}, "kind"), ({"path": " "}, "path"),
])
def test_bad_parameters_are_400s_naming_them(indexed: IndexManager, kw: dict[str, object],
                                             param: str) -> None:
    args: dict[str, object] = {"query": "date", "k": 5, **kw}
    with pytest.raises(InvalidRequest) as caught:
        indexed.search("demo", **args)  # type: ignore[arg-type]
    assert caught.value.param == param


def test_an_unknown_index_is_a_404(indexed: IndexManager) -> None:
    with pytest.raises(NotFound) as caught:
        indexed.search("nope", "date")
    assert caught.value.param == "index"


def test_rrf_order_on_known_rankings() -> None:
    fused = rrf([[1, 2, 3], [3, 1, 4]])
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[3][1] == pytest.approx(1 / 63)
    assert [i for i, _ in rrf([[7, 5], [5, 7]])] == [5, 7]  # a tie: the older id
    assert [i for i, _ in rrf([[9], [], [8, 9]])] == [9, 8]
    assert rrf([[], []]) == []
