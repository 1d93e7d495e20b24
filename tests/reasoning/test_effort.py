"""reasoning_effort / thinking_budget -> a thinking budget, validated as a 400 naming the field."""

from __future__ import annotations

import pytest

from openmini.errors import InvalidRequest
from openmini.reasoning import EFFORT_BUDGETS, EFFORTS, MIN_BUDGET, ReasoningSpec, reasoning_spec
from openmini.reasoning.effort import ANSWER_RESERVE, MAX_BUDGET


def test_the_effort_table() -> None:
    assert EFFORTS == ("none", "minimal", "low", "medium", "high")
    assert EFFORT_BUDGETS == {"none": 0, "minimal": 64, "low": 256, "medium": 1024,
                              "high": 4096}


@pytest.mark.parametrize(("effort", "budget"), [("minimal", 64), ("low", 256), ("medium", 1024),
                                                ("high", 4096)])
def test_an_effort_gives_its_budget(effort: str, budget: int) -> None:
    assert reasoning_spec(effort, None) == ReasoningSpec(effort, budget)


@pytest.mark.parametrize(("effort", "budget"), [(None, None), ("none", None), ("none", 0),
                                                (None, 0), ("high", 0), ("minimal", 0)])
def test_no_thinking(effort: str | None, budget: int | None) -> None:
    assert reasoning_spec(effort, budget) is None


def test_thinking_budget_overrides_the_effort() -> None:
    assert reasoning_spec("high", 100) == ReasoningSpec("high", 100)
    assert reasoning_spec("minimal", 5000) == ReasoningSpec("minimal", 5000)
    assert reasoning_spec(None, 300) == ReasoningSpec("custom", 300)


@pytest.mark.parametrize("budget", [MIN_BUDGET, MIN_BUDGET + 1, MAX_BUDGET])
def test_budget_bounds_are_inclusive(budget: int) -> None:
    spec = reasoning_spec(None, budget)
    assert spec is not None and spec.budget == budget


@pytest.mark.parametrize("budget", [MIN_BUDGET - 1, 15, 1, -1, -100, MAX_BUDGET + 1])
def test_a_budget_out_of_bounds_is_a_400(budget: int) -> None:
    assert MIN_BUDGET == 16
    with pytest.raises(InvalidRequest) as err:
        reasoning_spec("low", budget)
    assert err.value.status == 400
    assert err.value.param == "thinking_budget"
    assert str(budget) in err.value.message


@pytest.mark.parametrize("budget", [True, False, 100.0, "100", [100]])
def test_a_budget_must_be_an_integer(budget: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        reasoning_spec(None, budget)
    assert err.value.param == "thinking_budget"


def test_effort_none_with_a_budget_is_a_400_naming_thinking_budget() -> None:
    with pytest.raises(InvalidRequest) as err:
        reasoning_spec("none", 100)
    assert err.value.status == 400
    assert err.value.param == "thinking_budget"
    assert "none" in err.value.message


@pytest.mark.parametrize("effort", ["max", "", "High", "NONE", "xhigh"])
def test_an_unknown_effort_is_a_400_naming_reasoning_effort(effort: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        reasoning_spec(effort, None)
    assert err.value.status == 400
    assert err.value.param == "reasoning_effort"
    for known in EFFORTS:
        assert known in err.value.message


def test_an_unknown_effort_is_reported_before_the_budget() -> None:
    with pytest.raises(InvalidRequest) as err:
        reasoning_spec("max", 5)
    assert err.value.param == "reasoning_effort"


def test_budget_within_keeps_the_whole_budget_when_there_is_room() -> None:
    spec = ReasoningSpec("medium", 1024)
    assert spec.budget_within(4096) == 1024
    assert spec.budget_within(1024 + ANSWER_RESERVE) == 1024


def test_budget_within_keeps_room_for_the_answer() -> None:
    spec = ReasoningSpec("medium", 1024)
    assert ANSWER_RESERVE == 256
    assert spec.budget_within(1000) == 1000 - 256
    assert spec.budget_within(300) == 150  # half of a small max_tokens stays for the answer
    assert spec.budget_within(2) == 1
    assert spec.budget_within(1) == 1  # nothing can be reserved from one token
    assert spec.budget_within(0) == 0


@pytest.mark.parametrize("budget", [16, 64, 256, 1024, 4096])
def test_budget_within_never_exceeds_the_budget_or_eats_the_reserve(budget: int) -> None:
    spec = ReasoningSpec("custom", budget)
    for max_tokens in range(0, 6000, 37):
        got = spec.budget_within(max_tokens)
        assert 0 <= got <= budget
        assert got + min(ANSWER_RESERVE, max_tokens // 2) <= max(max_tokens, got)
        if max_tokens >= budget + ANSWER_RESERVE:
            assert got == budget
