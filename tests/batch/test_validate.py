"""A batch input file checked line by line (batch/validate.py): each kind of bad line named with
its 1-based number and the parameter at fault; digests that let equal deterministic lines run
once; the prefix key that puts lines sharing a system prompt next to each other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openmini.batch.validate import (
    MAX_ERRORS,
    Checked,
    Problem,
    check_file,
    deterministic,
    prefix_key,
)
from openmini.server.schemas import ChatCompletionRequest, CompletionRequest

CHAT = "/v1/chat/completions"


def body(content: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": content}], **extra}


def line(custom_id: Any = "a", url: str = CHAT, method: Any = "POST",
         request: Any = None, **extra: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": method, "url": url,
            "body": body() if request is None else request, **extra}


def check(tmp_path: Path, *items: Any, endpoint: str = CHAT, max_lines: int = 100,
          schema: Any = ChatCompletionRequest, served: Any = None) -> Checked:
    """`items` written one a line (dicts as JSON, bytes and str as they are)."""
    path = tmp_path / "input.jsonl"
    with path.open("wb") as f:
        for item in items:
            if isinstance(item, bytes):
                f.write(item)
            elif isinstance(item, str):
                f.write(item.encode())
            else:
                f.write(json.dumps(item).encode() + b"\n")
    return check_file(path, endpoint, schema, max_lines,
                      served if served is not None else (lambda model: model == "fake"))


def only_problem(checked: Checked) -> Problem:
    assert len(checked.problems) == 1, checked.problems
    return checked.problems[0]


def test_a_good_file(tmp_path: Path) -> None:
    checked = check(tmp_path, line("a"), line("b", request=body("Bye")))
    assert checked.problems == [] and checked.refused == 0
    assert [(x.number, x.custom_id) for x in checked.lines] == [(1, "a"), (2, "b")]
    first = checked.lines[0]
    assert json.loads(first.body) == body()
    assert first.body == json.dumps(body(), sort_keys=True, separators=(",", ":"))
    assert first.digest is None  # no temperature 0, no seed: not deduplicated


BAD_LINES: list[tuple[str, bytes | str | dict[str, Any], str, str | None, str]] = [
    ("not json", b"{not json\n", "invalid_json_line", None, "not valid JSON"),
    ("not utf-8", b"\xff\xfe{}\n", "invalid_json_line", None, "not valid JSON"),
    ("an array", b"[1, 2]\n", "invalid_request", None, "JSON object"),
    ("a string", b'"x"\n', "invalid_request", None, "JSON object"),
    ("unknown field", line(extra_field=1), "invalid_request", "extra_field", "extra_field"),
    ("no custom_id", {k: v for k, v in line().items() if k != "custom_id"},
     "invalid_custom_id", "custom_id", "custom_id"),
    ("empty custom_id", line(""), "invalid_custom_id", "custom_id", "custom_id"),
    ("numeric custom_id", line(7), "invalid_custom_id", "custom_id", "custom_id"),
    ("long custom_id", line("x" * 513), "invalid_custom_id", "custom_id", "512"),
    ("GET", line(method="GET"), "invalid_method", "method", "POST"),
    ("no method", {k: v for k, v in line().items() if k != "method"},
     "invalid_method", "method", "POST"),
    ("another url", line(url="/v1/completions"), "mismatched_url", "url", "/v1/completions"),
    ("body not object", line(request=["x"]), "invalid_body", "body", "JSON object"),
    ("no body", {k: v for k, v in line().items() if k != "body"},
     "invalid_body", "body", "JSON object"),
    ("stream", line(request=body(stream=True)), "invalid_body", "body.stream", "stream"),
    ("bad role", line(request={"model": "fake", "messages": [{"role": "bot", "content": "x"}]}),
     "invalid_body", "body.messages.0.role", "messages.0.role"),
    ("bad temperature", line(request=body(temperature=9)), "invalid_body",
     "body.temperature", "temperature"),
    ("no messages", line(request={"model": "fake"}), "invalid_body", "body.messages",
     "messages"),
    ("unknown body field", line(request=body(frobnicate=1)), "invalid_body",
     "body.frobnicate", "frobnicate"),
    ("model not served", line(request={**body(), "model": "gpt-9"}), "model_not_found",
     "body.model", "gpt-9"),
]


@pytest.mark.parametrize(("bad", "code", "param", "says"),
                         [case[1:] for case in BAD_LINES], ids=[case[0] for case in BAD_LINES])
def test_each_kind_of_bad_line(tmp_path: Path, bad: Any, code: str, param: str | None,
                               says: str) -> None:
    checked = check(tmp_path, line("ok-1"), bad, line("ok-3"))
    problem = only_problem(checked)
    assert (problem.line, problem.code, problem.param) == (2, code, param)
    assert says in problem.message
    assert problem.to_api() == {"code": code, "message": problem.message, "param": param,
                                "line": 2}
    assert checked.refused == 1
    assert [x.custom_id for x in checked.lines] == ["ok-1", "ok-3"]  # the others still read


def test_stream_false_is_fine(tmp_path: Path) -> None:
    assert check(tmp_path, line(request=body(stream=False))).problems == []


def test_extensions_of_the_endpoint_are_accepted(tmp_path: Path) -> None:
    extended = body(priority=3, top_k=5, bad_words=["x"], stop_regex=["\\d"])
    assert check(tmp_path, line(request=extended)).problems == []


def test_duplicate_custom_id_names_the_later_line(tmp_path: Path) -> None:
    checked = check(tmp_path, line("a"), line("b"), line("a", request=body("other")))
    problem = only_problem(checked)
    assert (problem.line, problem.code, problem.param) == (3, "duplicate_custom_id", "custom_id")
    assert "'a'" in problem.message
    assert [x.custom_id for x in checked.lines] == ["a", "b"]


def test_every_problem_is_collected(tmp_path: Path) -> None:
    checked = check(tmp_path, b"nope\n", line("a", method="GET"), line("b"),
                    line("c", url="/v1/x"))
    assert [(p.line, p.code) for p in checked.problems] == [
        (1, "invalid_json_line"), (2, "invalid_method"), (4, "mismatched_url")]
    assert checked.refused == 3


def test_problems_listed_are_capped_but_counted(tmp_path: Path) -> None:
    checked = check(tmp_path, *([b"nope\n"] * (MAX_ERRORS + 5)), max_lines=1000)
    assert len(checked.problems) == MAX_ERRORS and checked.refused == MAX_ERRORS + 5


def test_blank_lines_are_skipped_and_numbering_stays_1_based(tmp_path: Path) -> None:
    checked = check(tmp_path, "\n", line("a"), "   \n", "\r\n", line("b"), b"bad\n", "\n")
    assert [(x.number, x.custom_id) for x in checked.lines] == [(2, "a"), (5, "b")]
    problem = only_problem(checked)
    assert problem.line == 6 and problem.code == "invalid_json_line"


def test_a_last_line_without_a_newline(tmp_path: Path) -> None:
    checked = check(tmp_path, line("a"), json.dumps(line("b")))
    assert checked.problems == [] and [x.custom_id for x in checked.lines] == ["a", "b"]


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_file(tmp_path: Path, content: str) -> None:
    problem = only_problem(check(tmp_path, content))
    assert problem.code == "empty_file" and problem.line is None


def test_too_many_lines(tmp_path: Path) -> None:
    checked = check(tmp_path, *(line(str(k)) for k in range(4)), max_lines=3)
    problem = only_problem(checked)
    assert problem.code == "too_many_lines" and problem.line is None
    assert "3" in problem.message and "batch_max_lines" in problem.message
    exact = check(tmp_path, *(line(str(k)) for k in range(3)), max_lines=3)
    assert exact.problems == [] and len(exact.lines) == 3


def test_blank_lines_do_not_count_toward_the_line_limit(tmp_path: Path) -> None:
    checked = check(tmp_path, line("a"), "\n", "\n", line("b"), "\n", line("c"), "\n",
                    max_lines=3)
    assert checked.problems == [] and [x.number for x in checked.lines] == [1, 4, 6]


def test_another_endpoint_uses_its_own_schema(tmp_path: Path) -> None:
    good = line("a", url="/v1/completions", request={"model": "fake", "prompt": "Once"})
    bad = line("b", url="/v1/completions", request=body())  # a chat body
    checked = check(tmp_path, good, bad, endpoint="/v1/completions", schema=CompletionRequest)
    problem = only_problem(checked)
    assert problem.line == 2 and problem.code == "invalid_body"
    assert problem.param is not None and problem.param.startswith("body.")


def test_without_a_model_check_any_model_goes(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(json.dumps(line(request={**body(), "model": "anything"})) + "\n")
    assert check_file(path, CHAT, ChatCompletionRequest, 10, None).problems == []


# --- digests ---------------------------------------------------------------------------------


def digests(tmp_path: Path, *bodies: dict[str, Any]) -> list[str | None]:
    checked = check(tmp_path, *(line(str(k), request=b) for k, b in enumerate(bodies)))
    assert checked.problems == []
    return [x.digest for x in checked.lines]


def test_equal_deterministic_bodies_share_a_digest(tmp_path: Path) -> None:
    greedy = body(temperature=0, max_tokens=5)
    reordered = dict(reversed(list(greedy.items())))  # key order is not part of it
    assert list(reordered) != list(greedy)
    a, b, c = digests(tmp_path, greedy, reordered, {**greedy, "temperature": 0.0})
    assert a is not None and a == b == c


def test_a_seed_makes_a_body_deterministic(tmp_path: Path) -> None:
    a, b, c = digests(tmp_path, body(seed=1, temperature=1), body(seed=1, temperature=1),
                      body(seed=2, temperature=1))
    assert a is not None and a == b and c is not None and c != a


def test_different_or_random_bodies_do_not_share(tmp_path: Path) -> None:
    found = digests(tmp_path, body("x", temperature=0), body("y", temperature=0),
                    body("x", temperature=0, max_tokens=3), body("x"), body("x"),
                    body("x", temperature=0.7))
    assert found[0] is not None and found[1] is not None and found[2] is not None
    assert len(set(found[:3])) == 3
    assert found[3:] == [None, None, None]


def test_the_endpoint_is_part_of_the_digest(tmp_path: Path) -> None:
    prompt = {"model": "fake", "prompt": "x", "temperature": 0}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(line("a", url="/v1/completions", request=prompt)) + "\n")
    on_completions = check_file(path, "/v1/completions", CompletionRequest, 10).lines[0].digest
    chat = digests(tmp_path, body(temperature=0))[0]
    assert on_completions is not None and chat is not None and on_completions != chat


def test_deterministic() -> None:
    assert deterministic(CHAT, {"temperature": 0})
    assert deterministic(CHAT, {"seed": 0})
    assert not deterministic(CHAT, {})
    assert not deterministic(CHAT, {"temperature": 0.2})
    assert deterministic("/v1/messages/count_tokens", {})


# --- prefix order ----------------------------------------------------------------------------


def chat_with(system: str, user: str) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "system", "content": system},
                                          {"role": "user", "content": user}]}


def test_prefix_key_sorts_lines_sharing_a_system_prompt_together() -> None:
    systems = ["You classify tickets.", "You extract fields.", "You classify tickets. Also",
               "Translate to French."]
    bodies = [(k, chat_with(systems[k % len(systems)], f"item {k:02d}")) for k in range(12)]
    ordered = sorted(bodies, key=lambda item: (prefix_key(item[1]), item[0]))
    runs = [body["messages"][0]["content"] for _, body in ordered]
    # each system prompt appears as one unbroken run
    changes = [k for k in range(1, len(runs)) if runs[k] != runs[k - 1]]
    assert len(changes) == len(systems) - 1
    # within a run, the rest of the prompt orders them (here: the input order)
    for system in systems:
        numbers = [k for k, body in ordered if body["messages"][0]["content"] == system]
        assert numbers == sorted(numbers)


def test_prefix_key_follows_prompt_order() -> None:
    anthropic = {"model": "fake", "system": "S", "messages": [{"role": "user", "content": "u"}]}
    assert prefix_key(anthropic).startswith('["fake","S",null,[')
    assert prefix_key({"model": "m", "prompt": "Once upon"}) == '["m",null,null,"Once upon"]'
    other_model = {**anthropic, "model": "other"}
    assert prefix_key(other_model) != prefix_key(anthropic)


def test_prefix_key_is_bounded() -> None:
    long = chat_with("s" * 100_000, "u")
    assert len(prefix_key(long)) == 4096
