"""The relevance probe (tools/relevance.py) and its lean on the call/text decision."""

from __future__ import annotations

import numpy as np
import pytest

from openmini.backends.local import tool_fit
from openmini.config import EngineConfig, load_config
from openmini.tools.decision import TextDecision, fit_lean, logit
from openmini.tools.relevance import FitReader, answer_ids

OPENS = np.array([False, False, False, True, True, False])  # 3: the tag, 4: "{"
NONE = np.zeros(6, dtype=bool)
WORDS = {"yes": [5], "Yes": [6], "YES": [5, 9], " yes": [7], " Yes": [7],
         "no": [8], "No": [10], "NO": [10], " no": [11], " No": [], "x": [0]}


def test_answer_ids_are_the_first_token_of_each_spelling() -> None:
    yes, no = answer_ids(lambda w: WORDS[w])
    assert yes.tolist() == [5, 6, 7] and no.tolist() == [8, 10, 11]


def test_a_vocabulary_that_cannot_tell_yes_from_no_is_refused() -> None:
    with pytest.raises(ValueError, match="yes and no"):
        answer_ids(lambda w: [1])


def test_the_share_is_yes_among_yes_and_no_only() -> None:
    logits = np.log(np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1], dtype=np.float64))
    reader = FitReader(np.array([1, 2]), np.array([3]))
    reader.process([], logits)
    assert reader.share == pytest.approx(0.2 / 0.3)
    reader.process([1], np.zeros(6))  # read once: the first token's
    assert reader.share == pytest.approx(0.2 / 0.3)


def test_masked_answers_leave_no_share() -> None:
    reader = FitReader(np.array([1]), np.array([2]))
    reader.process([], np.full(4, -np.inf))
    assert reader.share is None


def test_a_no_leans_towards_text_and_a_yes_towards_a_call() -> None:
    assert fit_lean(0.6, 10, 0.6) == pytest.approx(0)
    assert fit_lean(0.55, 10, 0.6) > 0 > fit_lean(0.7, 10, 0.6)
    assert fit_lean(0.55, 0, 0.6) == 0


def probs(p_text: float) -> np.ndarray:  # prose on 0-2, call openings on 3-4
    rest = (1 - p_text) / 2
    return np.log(np.array([p_text / 4, p_text / 4, p_text / 4, rest, rest, p_text / 4]))


def test_the_lean_moves_the_decision_across_the_threshold() -> None:
    below, above = TextDecision(OPENS, NONE, 0.24), TextDecision(OPENS, NONE, 0.24,
                                                                   lean=fit_lean(0.5, 10, 0.6))
    for decision in (below, above):
        decision.process([], probs(0.1))
    assert below.text is False and above.text is True  # the probe's "no" made it text
    firm = TextDecision(OPENS, NONE, 0.24, lean=fit_lean(0.7, 10, 0.6))
    firm.process([], probs(0.5))
    assert firm.text is False  # a firm "yes" keeps a call where prose alone would not
    assert logit(0.1) + fit_lean(0.5, 10, 0.6) >= logit(0.24) > logit(0.5) + fit_lean(0.7, 10, 0.6)


def test_weight_and_center_come_from_config_then_catalogue_then_none(tmp_path: object) -> None:
    from openmini.models.catalogue import CATALOGUE

    spec = CATALOGUE["fast"]
    assert tool_fit(EngineConfig(model="fast")) == (spec.tool_fit_weight, spec.tool_fit_center)
    assert tool_fit(EngineConfig(model="fast", tool_fit_weight=0.0)) == (0.0, spec.tool_fit_center)
    assert tool_fit(EngineConfig(model="/m.gguf", tool_fit_center=0.7)) == (0.0, 0.7)


def test_the_settings_are_checked_and_read_from_the_environment() -> None:
    env = {"OPENMINI_TOOL_FIT_WEIGHT": "4", "OPENMINI_TOOL_FIT_CENTER": "0.6"}
    config = load_config(env=env).engine
    assert (config.tool_fit_weight, config.tool_fit_center) == (4.0, 0.6)
    for bad in (-1, True, "high"):
        with pytest.raises(ValueError, match="tool_fit_weight"):
            EngineConfig(tool_fit_weight=bad)  # type: ignore[arg-type]
    for bad in (0, 1, 1.5, False):
        with pytest.raises(ValueError, match="tool_fit_center"):
            EngineConfig(tool_fit_center=bad)  # type: ignore[arg-type]
