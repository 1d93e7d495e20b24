"""On the real `tiny` engine: the call-or-text decision runs after the grammar, once.

tiny has no call-tag tokens, so its <|im_start|>/<|im_end|> (ids 1, 2) stand in for them, as
in the grammar tests: the backend then builds the special-tag grammar and the decision.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.pipeline import collect
from openmini.tools import decision
from openmini.tools.grammar import CallFormat
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import ChatMessage, Request, SamplingParams

pytestmark = pytest.mark.model
ADD = ToolSpec("add", "Add two integers.", {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"]})


def ask(backend: LocalBackend, mode: str = "auto") -> tuple[str, list[Any]]:
    made: list[Any] = []
    original = decision.TextDecision.__init__

    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    req = Request(model="tiny", messages=(ChatMessage("user", "Add 2 and 3."),), tools=(ADD,),
                  tool_choice=ToolChoice(mode), n=2,
                  sampling=replace(SamplingParams(max_tokens=24), temperature=0.0))

    async def run() -> str:
        decision.TextDecision.__init__ = recording  # type: ignore[method-assign]
        try:
            return (await collect(backend.generate(req), n=2)).choices[0].text
        finally:
            decision.TextDecision.__init__ = original  # type: ignore[method-assign]

    return asyncio.run(run()), made


@pytest.fixture(scope="module")
def backend() -> Any:
    b = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=1024,
                                  tool_text_threshold=1e-6))
    b._tags = CallFormat(1, 2)
    yield b
    asyncio.run(b.close())


def test_a_low_threshold_answers_in_text(backend: LocalBackend) -> None:
    text, made = ask(backend)
    assert len(made) == 2  # one per choice
    assert all(d.text is True and d.p_text is not None and d.p_text >= 1e-6 for d in made)
    assert text and text[0] not in "{[` \n"  # prose, never a call opening


def test_no_decision_unless_auto(backend: LocalBackend) -> None:
    assert ask(backend, "required")[1] == [] and ask(backend, "none")[1] == []
    backend.tool_text_threshold = 1.0  # the first token's argmax decides: nothing is built
    try:
        assert ask(backend)[1] == []
    finally:
        backend.tool_text_threshold = 1e-6


def test_the_relevance_probe_asks_first_and_leans_the_decision(backend: LocalBackend) -> None:
    from openmini.backends import local_probes as relevance
    from openmini.tools.relevance import QUESTION

    asked: list[tuple[list[int], float | None]] = []
    original = relevance.ask

    async def recording(engine: Any, prompt: list[int], answers: Any, *rest: Any) -> Any:
        share = await original(engine, prompt, answers, *rest)
        asked.append((prompt, share))
        return share

    backend.tool_fit = (10.0, 0.6)
    relevance.ask = recording  # type: ignore[assignment]
    try:
        made = ask(backend)[1]
        assert ask(backend, "required")[1] == [] and len(asked) == 1  # auto only
    finally:
        relevance.ask = original  # type: ignore[assignment]
        backend.tool_fit = (0.0, 0.5)
    (prompt, share), = asked
    assert share is not None and 0 < share < 1
    assert QUESTION in backend.model.detokenize(prompt)  # one more user turn
    assert len(made) == 2 and all(d.lean == pytest.approx(decision.fit_lean(share, 10, 0.6))
                                  for d in made)


def test_no_probe_without_a_fit_weight(backend: LocalBackend) -> None:
    assert backend.tool_fit == (0.0, 0.5)  # tiny is not calibrated
    assert all(d.lean == 0 for d in ask(backend)[1])


def test_the_answer_keeps_the_probes_place_in_the_queue(backend: LocalBackend) -> None:
    seen: list[tuple[str, int]] = []
    submit = backend.engine.generate

    def recording(fields: dict[str, Any]) -> Any:
        seen.append((str(fields["request_id"]), int(fields["arrival"])))
        return submit(fields)

    backend.tool_fit = (10.0, 0.6)
    backend.engine.generate = recording  # type: ignore[method-assign]
    try:
        ask(backend)
    finally:
        backend.engine.generate = submit  # type: ignore[method-assign]
        backend.tool_fit = (0.0, 0.5)
    (probe, first), (answer, second) = seen
    assert probe.startswith("fit-") and not answer.startswith("fit-") and first == second
