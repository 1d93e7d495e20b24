"""fim_check (code/fim.py, code/fim_stage.py) over a scripted backend: a middle that breaks
the file is generated again, the answer is the first that parses (else the fewest errors),
usage counts every generation; a file that did not parse before is not checked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openmini.code.fim import ATTEMPTS, RESAMPLE_TEMPERATURE, FimCheck, file_check, fim_check_of
from openmini.code.fim_stage import attempt_request, run_with_fim_check
from openmini.errors import InvalidRequest
from openmini.pipeline import Completion, collect
from openmini.types import ChoiceFinished, Done, Event, Request, SamplingParams, TextDelta, Usage

PROMPT = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"
BROKEN = "a +"  # `return a +` does not parse
ALSO_BROKEN = "(a + b"
FIXED = "a + b"


class Scripted:
    """Answers each generate() with the next list of middles, one per choice, in 2-character
    deltas; each answer costs 10 prompt tokens and a token per character."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.requests: list[Request] = []

    async def generate(self, req: Request) -> AsyncIterator[Event]:
        middles = self.answers[len(self.requests)]
        self.requests.append(req)
        assert len(middles) == req.n
        for index, text in enumerate(middles):
            for i in range(0, len(text), 2):
                yield TextDelta(index, text[i:i + 2], (7,))
            yield ChoiceFinished(index, "stop")
        yield Done(Usage(10, sum(len(t) for t in middles)), engine_seconds=0.5)


def request(n: int = 1, prompt: str = PROMPT, suffix: str = SUFFIX, **sampling: object
            ) -> Request:
    fields: dict[str, object] = {"temperature": 0.0, "max_tokens": 16, **sampling}
    return Request(model="m", prompt=prompt, suffix=suffix, n=n,
                   sampling=SamplingParams(**fields),
                   fim_check=FimCheck())


async def answer(backend: Scripted, req: Request) -> Completion:
    return await collect(run_with_fim_check(req, backend.generate), req.n)


async def test_a_broken_middle_is_generated_again_and_usage_counts_both() -> None:
    backend = Scripted([BROKEN], [FIXED])
    done = await answer(backend, request(seed=5))
    assert done.text == FIXED
    choice = done.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.code.diagnostics == () and choice.code.repairs == 1
    assert done.usage == Usage(20, len(BROKEN) + len(FIXED))
    assert done.engine_seconds == 1.0
    first, second = backend.requests
    assert (first.sampling.seed, first.sampling.temperature) == (5, 0.0)
    assert (second.sampling.seed, second.sampling.temperature) == (6, RESAMPLE_TEMPERATURE)


async def test_a_middle_that_parses_is_taken_at_once() -> None:
    backend = Scripted([FIXED])
    done = await answer(backend, request())
    assert done.text == FIXED and len(backend.requests) == 1
    assert done.choices[0].code.repairs == 0


async def test_when_every_attempt_fails_the_fewest_errors_win_and_say_so() -> None:
    backend = Scripted([ALSO_BROKEN], [BROKEN], [ALSO_BROKEN])
    done = await answer(backend, request())
    check = file_check(PROMPT, SUFFIX, FimCheck())
    assert check is not None
    best = min((ALSO_BROKEN, BROKEN), key=check.errors)
    assert len(backend.requests) == ATTEMPTS
    choice = done.choices[0]
    assert choice.text == best and choice.finish_reason == "stop"
    assert choice.code.repairs == ATTEMPTS - 1
    assert choice.code.diagnostics and choice.code.diagnostics[0]["language"] == "python"
    assert done.usage.prompt_tokens == 10 * ATTEMPTS


async def test_only_the_choices_that_failed_are_asked_for_again() -> None:
    backend = Scripted([FIXED, BROKEN, "b + a"], [FIXED])
    done = await answer(backend, request(n=3))
    assert [c.text for c in done.choices] == [FIXED, FIXED, "b + a"]
    assert [r.n for r in backend.requests] == [3, 1]
    assert [c.code.repairs for c in done.choices] == [0, 1, 0]


async def test_a_file_that_did_not_parse_before_is_not_checked() -> None:
    backend = Scripted([BROKEN])
    done = await answer(backend, request(prompt="def add(a, b)\n    return "))
    assert done.text == BROKEN and len(backend.requests) == 1
    assert done.choices[0].code is None


def test_the_language_is_named_or_detected() -> None:
    assert file_check(PROMPT, SUFFIX, FimCheck()).language.name == "python"
    js = file_check("function f(a) {\n  return ", ";\n}\n", fim_check_of("js"))
    assert js is not None and js.language.name == "javascript"
    assert js.errors("a") == 0 and js.errors("a +") > 0
    with pytest.raises(InvalidRequest) as info:
        fim_check_of("klingon")
    assert info.value.param == "language"


def test_a_resample_keeps_a_random_seed_random() -> None:
    req = request()
    assert attempt_request(req, 0, 1).sampling == req.sampling
    again = attempt_request(req, 2, 1).sampling
    assert again.seed is None and again.temperature == RESAMPLE_TEMPERATURE
    hot = attempt_request(request(temperature=1.2), 1, 1).sampling
    assert hot.temperature == 1.2
