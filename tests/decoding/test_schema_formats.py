"""Formats llguidance lacks, enforced as the pattern of their syntax (decoding/schema_formats.py):
the compiled grammar takes exactly the strings jsonschema's checker takes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.decoding.constraint import Constraint
from openmini.decoding.schema_formats import PATTERNS

CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER
CURATED = [
    "", "http://example.com/a/b?c=d#e", "https://user:pw@[::1]:8080/x", "urn:isbn:0451450523",
    "mailto:a@b.c", "//host/path", "/abs/path", "rel/path", "../up", "?q", "#frag", "a:b",
    "1a:b", "http://[1:2:3:4:5:6::8]/", "http://[v1.fe]/", "http://1.2.3.4/", "http://a b/",
    "http://a.com/%zz", "http://a.com/%2F", "http://[::g]/", "http://é.com/", "/ü?ĳ#ñ",
    "http://a/\ue000?\ue000", "http://a/#\ue000", "http://a/😀", "http://a/?\U000F0000",
    "http://a/\U000E0001", "http://a/\ufffe", "a%", "[x]", "/a~0b/c~1d",
    "/~2", "/~", "0", "10", "100", "0#", "1/a", "01", "-1", "2/~0",
]
ALPHABET = [*"aZ09-._~!$&'()*+,;=:@/?#[]%v", "%20", "%zz", "::", "//", "é", "\ue000",
            "1.2.3.4", "[::1]", "[v1.x]", "[1:2:3:4:5:6::8]", "http:", "~0", "~1", "~2", " ",
            "<", "{", "|", "😀", "\U000F0000", "\ufffe", "\U0001FFFF"]


def _random(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    lead = ["", "", "http://", "a:", "//", "/", "0", "10", "5#"]
    return [rng.choice(lead) + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 7)))
            for _ in range(n)]


def _private(ch: str) -> bool:
    return 0xE000 <= ord(ch) <= 0xF8FF or 0xF0000 <= ord(ch) <= 0x10FFFD


def _ucs(ch: str) -> bool:
    code = ord(ch)
    return (0xA0 <= code <= 0xD7FF or 0xF900 <= code <= 0xFDCF or 0xFDF0 <= code <= 0xFFEF
            or (code >= 0x10000 and code & 0xFFFF <= 0xFFFD and code < 0xE0000)
            or 0xE1000 <= code <= 0xEFFFD)


def conforms(text: str, fmt: str) -> bool:
    """jsonschema's checker; for IRIs (no checker installed) RFC 3987 §3.1: its non-ASCII
    characters are ucschar, or iprivate in the query, and percent-encoded it is a URI."""
    if not fmt.startswith("iri"):
        return CHECKER.conforms(text, fmt)
    end = text.find("#") if "#" in text else len(text)
    start = text.find("?", 0, end)
    for i, ch in enumerate(text):
        in_query = start != -1 and start < i < end
        if ord(ch) >= 0x80 and not (_ucs(ch) or (in_query and _private(ch))):
            return False
    encoded = "".join(ch if ord(ch) < 0x80 else "".join(f"%{b:02X}" for b in ch.encode())
                      for ch in text)
    return CHECKER.conforms(encoded, "uri" if fmt == "iri" else "uri-reference")


@pytest.fixture
def takes(compiler: GrammarCompiler, tokenizer: Any) -> Callable[[Any, Any], bool]:
    def check(schema: Any, instance: Any) -> bool:  # raw UTF-8, as a model writes it
        matcher = compiler.matcher(Constraint.json_schema(schema, "response_format"))
        text = json.dumps(instance, ensure_ascii=False)
        tokens = tokenizer.tokenize_str(text, parse_special=False)
        return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())
    return check


@pytest.mark.parametrize("fmt", sorted(PATTERNS))
def test_the_grammar_takes_what_the_checker_takes(takes: Callable[[Any, Any], bool],
                                                  fmt: str) -> None:
    schema = {"type": "string", "format": fmt}
    for text in CURATED + _random(sorted(PATTERNS).index(fmt), 250):
        assert takes(schema, text) == conforms(text, fmt), (fmt, text)


YEARS = ["0000", "0001", "0004", "1900", "2000", "2023", "2024", "2100", "9999", "123"]
DAYS = ["00", "01", "28", "29", "30", "31", "32", "1"]
TIMES = ["00:00:00Z", "23:59:59z", "23:59:60Z", "24:00:00Z", "12:00:00.123+05:30",
         "12:00:00-23:59", "12:00:00+24:00", "12:00:00", "12:60:00Z", "1:00:00Z"]


@pytest.mark.parametrize("fmt", ["date", "date-time"])
def test_dates_take_what_the_checkers_take(takes: Callable[[Any, Any], bool], fmt: str) -> None:
    """Every month's last days across leap and common years (llguidance's own `date` took
    2023-02-29), year 0, and the time forms."""
    schema = {"type": "string", "format": fmt}
    months = [f"{m:02d}" for m in range(14)]
    dates = [f"{y}-{m}-{d}" for y in YEARS for m in months for d in DAYS]
    texts = dates if fmt == "date" else [
        f"{date}T{TIMES[i % len(TIMES)]}" for i, date in enumerate(dates)] + [
        f"2024-02-29{t}{time}" for t in "Tt " for time in TIMES]
    for text in texts:
        assert takes(schema, text) == conforms(text, fmt), (fmt, text)


def test_time_takes_what_the_checker_takes(takes: Callable[[Any, Any], bool]) -> None:
    for text in TIMES:
        assert takes({"type": "string", "format": "time"}, text) == conforms(text, "time"), text


def test_the_checkers_disagree_where_the_patterns_do() -> None:
    """Sanity: the strings above tell the formats apart, so the test above tests something."""
    samples = [*CURATED, *TIMES, "2024-02-29", "2023-02-29", "2024-02-29T00:00:00Z"]
    for fmt in PATTERNS:
        verdicts = {conforms(text, fmt) for text in samples}
        assert verdicts == {True, False}, fmt


def test_beside_a_pattern_both_hold(takes: Callable[[Any, Any], bool]) -> None:
    schema = {"type": "string", "format": "uri-reference", "pattern": "^https"}
    assert takes(schema, "https://a.com/")
    assert not takes(schema, "https://a b")  # the pattern holds, the format does not
    assert not takes(schema, "ftp://a.com/")


def test_only_strings_are_checked(same_language: Callable[[Any, list[Any]], None]) -> None:
    same_language({"format": "json-pointer"}, ["/a", "a", 5, None, ["a"], {"k": "a"}])
