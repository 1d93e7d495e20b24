"""The documents benchmark's cases (bench/vision_docs_data.py): enough of them, every kind,
unique ids, the same pixels from the same seed, every answer printed in its image; and the
bench's answer matching and edit distance."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the bench imports its siblings by plain name
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def data() -> ModuleType:
    return bench_module("vision_docs_data")


@pytest.fixture(scope="module")
def drawn(data: ModuleType) -> list[Any]:
    return list(data.cases(0))


def test_enough_cases_of_every_kind_with_unique_ids(data: ModuleType, drawn: list[Any]) -> None:
    assert len(drawn) >= 50
    assert len({c.id for c in drawn}) == len(drawn)
    kinds = Counter(c.kind for c in drawn)
    assert set(kinds) == set(data.KINDS)
    assert min(kinds.values()) >= 5
    assert all(1 <= len(c.questions) <= 3 for c in drawn)
    assert {c.rotation for c in drawn} >= {0, 3, -3, 8, -8, 90}
    assert {c.noise for c in drawn} == {"none", "gauss", "jpeg35", "blur"}
    assert min(c.width for c in drawn) == 600 and max(c.width for c in drawn) == 1800


def test_same_seed_same_cases_and_pixels(data: ModuleType, drawn: list[Any]) -> None:
    again = data.cases(0)
    assert [(c.id, c.text, c.questions, c.font) for c in again] == \
        [(c.id, c.text, c.questions, c.font) for c in drawn]
    assert [data.digest(c.image) for c in again] == [data.digest(c.image) for c in drawn]


def test_every_answer_is_printed(data: ModuleType, drawn: list[Any]) -> None:
    for case in drawn:
        for q in case.questions:
            assert q.answers
            for answer in q.answers:
                assert data.matches(case.text, (answer,)), (case.id, q.text, answer)


def test_png_data_url(data: ModuleType, drawn: list[Any]) -> None:
    url = data.png_data_url(drawn[0].image)
    assert url.startswith("data:image/png;base64,iVBORw0KGgo")


@pytest.mark.parametrize(("reply", "answer", "ok"), [
    ("The total is $42.50.", "42.50", True),
    ("42.50", "$42.50", True),
    ("It is $1,016.70", "$1,016.70", True),
    ("1016.70", "$1,016.70", True),
    ("$142.50", "$42.50", False),
    ("42.505", "42.50", False),
    ("It opens at 09:00.", "9:00", True),
    ("19:00", "9:00", False),
    ("inv-2024-0173", "INV-2024-0173", True),
    ("Rosie\u2019s Bakery", "Rosie's Bakery", True),
    ("line 16 5", "165", False),
])
def test_matches(data: ModuleType, reply: str, answer: str, ok: bool) -> None:
    assert data.matches(reply, (answer,)) is ok


def test_levenshtein() -> None:
    lev = bench_module("vision_docs").levenshtein
    assert lev("kitten", "sitting") == 3
    assert lev("", "abc") == lev("abc", "") == 3
    assert lev("flaw", "lawn") == 2
    assert lev("same", "same") == 0
