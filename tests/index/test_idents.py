"""Identifier splitting (index/idents.py) and the FTS5 expressions made of queries."""

from __future__ import annotations

import pytest

from openmini.index.idents import (
    MAX_QUERY_TERMS,
    identifier_words,
    match_expression,
    query_terms,
    split_identifier,
)


@pytest.mark.parametrize(("identifier", "parts"), [
    ("parseHttpDate", ["parse", "http", "date"]),
    ("ParseHTTPDate", ["parse", "http", "date"]),
    ("parse_http_date", ["parse", "http", "date"]),
    ("HTTPServer2", ["http", "server", "2"]),
    ("utf8Decode", ["utf", "8", "decode"]),
    ("__init__", ["init"]),
    ("MAX_SIZE", ["max", "size"]),
    ("x", ["x"]),
])
def test_split_identifier(identifier: str, parts: list[str]) -> None:
    assert split_identifier(identifier) == parts


def test_identifier_words_give_parts_and_joined_forms() -> None:
    assert identifier_words("x = parseHttpDate(raw_value) + y") == (
        "parse http date parsehttpdate raw value rawvalue")


def test_query_terms_words_parts_and_joined() -> None:
    assert query_terms("parseHttpDate in HTTP") == [
        "parsehttpdate", "parse", "http", "date", "in"]
    assert query_terms("parse_http_date") == ["parse_http_date", "parse", "http", "date",
                                              "parsehttpdate"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(200)))) == MAX_QUERY_TERMS


@pytest.mark.parametrize("query", ['"', "*", "NEAR(a b)", "a AND OR NOT", "((((",
                                   "-x:y", '"unterminated', "^col:", "{a b}",
                                   "'; DROP TABLE chunks; --"])
def test_hostile_queries_become_quoted_terms(query: str) -> None:
    expression = match_expression(query)
    if expression is not None:
        for term in expression.split(" OR "):
            assert term.startswith('"') and term.endswith('"') and '"' not in term[1:-1]


def test_stop_words_are_left_out_unless_nothing_else_is_asked() -> None:
    assert match_expression("return the nodes of a cycle") == '"return" OR "nodes" OR "cycle"'
    assert match_expression("is_directed") == '"is_directed" OR "directed" OR "isdirected"'
    assert match_expression("what is it") == '"what" OR "is" OR "it"'


def test_a_query_of_punctuation_has_no_expression() -> None:
    assert match_expression("()*\"'") is None
