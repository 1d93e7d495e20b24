"""Scoring for bench/reasoning.py: pull the final answer out of a reply and compare it.

Extraction, first that applies:

1. `answer-line`: the last "Answer:" in the text (any case, "Final answer:", markdown such
   as "**Answer:** 12" allowed); the rest of that line, or the next non-empty line when the
   rest is empty.
2. `answer-is`: the same for the last "answer is" without a colon ("The answer is 12.").
3. `boxed`: the last `\\boxed{...}`.
4. `last-number` (expected answer is a number) or `last-word` (otherwise) of the whole text.

Normalisation: lower case; markdown (`*`, `_`, backticks), `$`, quotes and brackets dropped;
commas inside numbers removed; a trailing ".0" on a number dropped; number words
("five", "second") turned into digits when a number is expected.

Comparison with the normalised expected answer:

- a number: the first number of the extracted text (after the last "=" when there is one),
  compared as a number: "Answer: 12 dollars", "$12.00", "2nd", "second" all match 12 or 2.
- a word: the extracted text equals it, or its first or last word does, articles ignored:
  "Fay", "Fay broke it", "A is a knave", "No, it does not follow" all match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANSWER = re.compile(r"\banswer\b[ \t*_]*(?:is)?[ \t*_]*[:：]", re.IGNORECASE)
ANSWER_IS = re.compile(r"\banswer\b[ \t*_]*is\b", re.IGNORECASE)
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
ARTICLES = {"a", "an", "the"}
CARDINALS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve")
ORDINALS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
            "eighth", "ninth", "tenth")
NUMBER_WORDS = {w: str(i) for words in (CARDINALS, ORDINALS) for i, w in enumerate(words)}


@dataclass(frozen=True, slots=True)
class Score:
    extracted: str  # the normalised final answer, "" when nothing was found
    via: str  # answer-line, boxed, last-number, last-word, none
    correct: bool


def is_number(s: str) -> bool:
    return NUMBER.fullmatch(s) is not None


def normalize(s: str) -> str:
    s = s.lower().replace("\\boxed{", "").replace("$", "")
    s = re.sub(r"[*_`\"“”‘’(){}\[\]]", " ", s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,000 -> 1000
    s = re.sub(r"(?<=\d)\.0+\b", "", s)  # 12.0 / 12.00 -> 12
    s = " ".join(s.split())
    return s.strip(" .,;:!?'")


def answer_line(text: str, pattern: re.Pattern[str] = ANSWER) -> str | None:
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    lines = rest.split("\n")
    if lines[0].strip(" \t*_"):
        return lines[0]
    return next((ln for ln in lines[1:] if ln.strip(" \t*_")), "")


def extract(text: str, numeric: bool) -> tuple[str, str]:
    """The final answer of `text` (not yet normalised) and how it was found."""
    line = answer_line(text)
    if line is not None:
        return line, "answer-line"
    line = answer_line(text, ANSWER_IS)
    if line is not None:
        return line, "answer-is"
    boxed = BOXED.findall(text)
    if boxed:
        return boxed[-1], "boxed"
    norm = normalize(text)
    if numeric:
        nums = NUMBER.findall(" ".join(NUMBER_WORDS.get(w, w) for w in norm.split()))
        return (nums[-1], "last-number") if nums else ("", "none")
    words = WORD.findall(norm)
    return (words[-1], "last-word") if words else ("", "none")


def matches(extracted: str, expected: str) -> bool:
    """`extracted` and `expected` normalised."""
    if is_number(expected):
        if "=" in extracted:
            extracted = extracted.rsplit("=", 1)[1]
        words = (NUMBER_WORDS.get(w.strip(".,;:!?"), w) for w in extracted.split())
        nums = NUMBER.findall(" ".join(words))
        return bool(nums) and float(nums[0]) == float(expected)
    if extracted == expected:
        return True
    words = [w for w in WORD.findall(extracted) if w not in ARTICLES]
    target = WORD.findall(expected)
    if not words or not target:
        return False
    n = len(target)
    return words[:n] == target or words[-n:] == target


def score(text: str, expected: str) -> Score:
    want = normalize(expected)
    raw, via = extract(text, is_number(want))
    got = normalize(raw)
    return Score(extracted=got, via=via, correct=bool(got) and matches(got, want))
