"""A batch input file checked as OpenAI checks it, line by line, before anything runs.

Each line is a JSON object `{"custom_id", "method": "POST", "url", "body"}`; `custom_id` is
unique in the file, `url` is the batch's endpoint, `body` validates against that endpoint's
own request model (the same pydantic model the HTTP route validates with, so a line is
refused for exactly what the route would refuse), and does not ask to stream. Problems are
collected, each naming its line (1-based), rather than stopping at the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ValidationError

from openmini.server.validation import validation_error

MAX_ERRORS = 100  # problems reported per file (the count of lines refused is exact)
PREFIX_CHARS = 4096  # of a line's prompt, for ordering lines that share a prefix
# Bodies whose answers do not depend on chance even at a temperature above 0.
DETERMINISTIC_ENDPOINTS = frozenset({"/v1/messages/count_tokens", "/v1/embeddings"})


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    custom_id: str
    body: str  # canonical JSON (sorted keys, no spaces)
    digest: str | None  # equal for lines with equal deterministic bodies: run once
    prefix: str  # lines sharing a prompt prefix sort next to each other
    model: str | None  # the body's `model` (the batch's own, when every line names it)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    code: str
    message: str
    param: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param,
                "line": self.line}


@dataclass
class Checked:
    lines: list[Line]
    problems: list[Problem]
    refused: int = 0  # lines with a problem (problems lists the first MAX_ERRORS)


ModelCheck = Callable[[str], bool]  # is this model id served here?


def check_file(path: Path, endpoint: str, schema: type[BaseModel], max_lines: int,
               served: ModelCheck | None = None) -> Checked:
    """Every line of the file at `path`, checked for a batch on `endpoint`."""
    out = Checked([], [])
    seen: set[str] = set()
    with path.open("rb") as f:
        for count, (number, raw) in enumerate(_lines(f), start=1):
            if count > max_lines:  # requests, not blank lines
                _refuse(out, Problem(None, "too_many_lines", f"The file has more than "
                                     f"{max_lines} lines (batch_max_lines)."))
                break
            try:
                line = _check_line(number, raw, endpoint, schema, served)
            except _LineProblem as problem:
                _refuse(out, problem.problem)
                continue
            if line.custom_id in seen:
                _refuse(out, Problem(number, "duplicate_custom_id", f"The custom_id "
                                     f"{line.custom_id!r} is used by an earlier line.",
                                     "custom_id"))
                continue
            seen.add(line.custom_id)
            out.lines.append(line)
    if not out.lines and not out.problems:
        _refuse(out, Problem(None, "empty_file", "The input file has no requests."))
    return out


def _refuse(out: Checked, problem: Problem) -> None:
    out.refused += 1
    if len(out.problems) < MAX_ERRORS:
        out.problems.append(problem)


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(1-based number, content) of each non-blank line."""
    for number, raw in enumerate(f, start=1):
        if raw.strip():
            yield number, raw


class _LineProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _check_line(number: int, raw: bytes, endpoint: str, schema: type[BaseModel],
                served: ModelCheck | None) -> Line:
    def bad(code: str, message: str, param: str | None = None) -> _LineProblem:
        return _LineProblem(Problem(number, code, message, param))

    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("invalid_json_line", "This line is not valid JSON.") from None
    if not isinstance(item, dict):
        raise bad("invalid_request", "A line must be a JSON object.")
    extra = sorted(set(item) - {"custom_id", "method", "url", "body"})
    if extra:
        raise bad("invalid_request", f"Unrecognized fields: {', '.join(extra)}.", extra[0])
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > 512:
        raise bad("invalid_custom_id", "custom_id must be a string of 1 to 512 characters.",
                  "custom_id")
    if item.get("method") != "POST":
        raise bad("invalid_method", "method must be \"POST\".", "method")
    if item.get("url") != endpoint:
        raise bad("mismatched_url", f"url must be the batch's endpoint, {endpoint!r}, not "
                  f"{item.get('url')!r}.", "url")
    body = item.get("body")
    if not isinstance(body, dict):
        raise bad("invalid_body", "body must be a JSON object.", "body")
    if body.get("stream"):
        raise bad("invalid_body", "A batch line cannot stream (body.stream).", "body.stream")
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        error = validation_error(exc.errors())
        param = f"body.{error.param}" if error.param else "body"
        raise bad("invalid_body", error.message, param) from None
    model = body.get("model")
    if served is not None and isinstance(model, str) and not served(model):
        raise bad("model_not_found", f"The model {model!r} is not served here.", "body.model")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Line(number, custom_id, canonical, _digest(endpoint, body),
                prefix_key(body), model if isinstance(model, str) else None)


def deterministic(endpoint: str, body: dict[str, Any]) -> bool:
    """Whether running the body twice gives the same answer: greedy or seeded sampling."""
    return (endpoint in DETERMINISTIC_ENDPOINTS or body.get("temperature") == 0
            or body.get("seed") is not None)


def _digest(endpoint: str, body: dict[str, Any]) -> str | None:
    """Equal for bodies equal once canonicalised: keys sorted, and a whole-number float the
    same as the integer (a temperature of 0.0 is one of 0)."""
    if not deterministic(endpoint, body):
        return None
    canonical = json.dumps(_integral(body), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def _integral(value: Any) -> Any:
    """`value` with every float that is a whole number written as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def prefix_key(body: dict[str, Any]) -> str:
    """The parts of a body a rendered prompt starts with, in prompt order, as text: sorting
    lines by it puts those sharing a system prompt, few-shot block or document together (a
    sorted list keeps common prefixes adjacent)."""
    parts = [body.get("model"), body.get("system"), body.get("tools"),
             body.get("messages", body.get("prompt", body.get("input")))]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return text[:PREFIX_CHARS]
