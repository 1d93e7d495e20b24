"""Identifiers split into words, for full-text search: `parseHttpDate`, `parse_http_date`,
`ParseHTTPDate` and `parse http date` should all find one another.

FTS5's unicode61 tokenizer already splits on `_` and folds case, so `parse_http_date` is
indexed as `parse`, `http`, `date`; but `parseHttpDate` is one token, `parsehttpdate`. A
chunk's `idents` column therefore holds, for every identifier with more than one part, its
parts and its parts joined (`parse http date parsehttpdate`), and a query is asked for its
words, their parts and their parts joined, OR-combined: each term quoted, so nothing a user
types (quotes, `*`, `NEAR`, `AND`, parentheses, `-`, `:`) is read as FTS5 syntax. English
stop words are left out of the expression (unless the query has nothing else): they match
nearly every chunk, so scoring them costs the most and ranks the least (a question's "the",
"of", "that"; an identifier keeps its joined form, `is_directed` -> `isdirected`).
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The parts of one identifier: an acronym before a capitalised word (HTTPServer: HTTP,
# Server), a capitalised or lower-case word, an upper-case run, digits.
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_WORD = re.compile(r"\w+")
MAX_QUERY_TERMS = 48
STOP_WORDS = frozenset(str.split(
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers him his how i if in into is it its "
    "itself just me more most my no nor not of off on once only or other our ours out over "
    "own same she should so some such than that the their theirs them then there these they "
    "this those through to too under until up very was we were what when where which while "
    "who whom whose why will with would you your yours"))


def split_identifier(identifier: str) -> list[str]:
    """The lower-case words of an identifier: camelCase, PascalCase, snake_case, digits.
    `parseHttpDate` -> parse, http, date; `HTTPServer2` -> http, server, 2."""
    return [part.lower() for part in _PART.findall(identifier)]


def identifier_words(text: str) -> str:
    """The `idents` column of a text: every identifier of two or more parts as its parts,
    then its parts joined (`parse_http_date` -> `parse http date parsehttpdate`)."""
    out: list[str] = []
    for match in _IDENT.finditer(text):
        parts = split_identifier(match.group())
        if len(parts) > 1:
            out.extend(parts)
            out.append("".join(parts))
    return " ".join(out)


def query_terms(query: str) -> list[str]:
    """The distinct lower-case terms a query asks for: each word, its identifier parts and
    their joined form, in order of appearance (at most `MAX_QUERY_TERMS`)."""
    terms: dict[str, None] = {}
    for word in _WORD.findall(query):
        terms[word.lower()] = None
        parts = split_identifier(word)
        if len(parts) > 1:
            for part in parts:
                terms[part] = None
            terms["".join(parts)] = None
    return list(terms)[:MAX_QUERY_TERMS]


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH expression for a query: its terms, each a quoted string, OR-combined;
    None when the query has no word at all (only punctuation)."""
    terms = query_terms(query)
    if not terms:
        return None
    terms = [t for t in terms if t not in STOP_WORDS] or terms
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
