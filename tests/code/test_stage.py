"""The code_check stage: diagnostics on each choice, repair with feedback, what streams when."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from openmini.code.check import CodeCheck
from openmini.code.stage import run_with_code_check
from openmini.pipeline import collect
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    Done,
    Event,
    Request,
    TextDelta,
    Usage,
)

BROKEN = "Sure:\n```python\ndef add(a, b)\n    return a + b\n```\nCall it with add(1, 2)."
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"
STILL_BROKEN = "```python\ndef add(a, b\n    return a + b\n```"


def request(mode: str = "repair", stream: bool = False, n: int = 1, repairs: int = 2
            ) -> Request:
    spec = CodeCheck(mode, (), repairs)  # type: ignore[arg-type]
    return Request(model="m", messages=(ChatMessage("user", "write add"),), n=n,
                   stream=stream, code_check=spec)


class Scripted:
    """Answers each generate() with the next output (every choice alike), in 4-character
    deltas; `sent` records each delta as it goes out."""

    def __init__(self, *outputs: str, finish: str = "stop"):
        self.outputs, self.finish = list(outputs), finish
        self.requests: list[Request] = []
        self.sent: list[str] = []
        self.closed = 0

    async def generate(self, req: Request) -> AsyncIterator[Event]:
        text = self.outputs[len(self.requests)]
        self.requests.append(req)
        try:
            for i in range(0, len(text), 4):
                for index in range(req.n):
                    self.sent.append(text[i:i + 4])
                    yield TextDelta(index, text[i:i + 4], (7,))
            for index in range(req.n):
                yield ChoiceFinished(index, self.finish)  # type: ignore[arg-type]
            yield Done(Usage(10, len(text)))
        finally:
            self.closed += 1


async def run(backend: Scripted, req: Request) -> list[Event]:
    return [e async for e in run_with_code_check(req, backend.generate(req), backend.generate)]


async def test_report_passes_text_through_and_reports_on_the_finish() -> None:
    backend = Scripted(BROKEN)
    events = await run(backend, request("report", stream=True))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == backend.sent  # untouched, as generated
    [finished] = [e for e in events if isinstance(e, ChoiceFinished)]
    assert finished.code is not None and finished.code.repairs is None
    [diag] = finished.code.diagnostics
    assert diag["block"] == 0 and diag["language"] == "python" and diag["line"] == 1
    assert len(backend.requests) == 1


async def test_repair_regenerates_the_block_with_the_diagnostics_fed_back() -> None:
    backend = Scripted(BROKEN, FIXED)
    done = await collect(run_with_code_check(request(), backend.generate(request()),
                                             backend.generate))
    answer = done.choices[0]
    assert answer.text == BROKEN.replace("def add(a, b)\n", "def add(a, b):\n")
    assert answer.code is not None and answer.code.diagnostics == () and answer.code.repairs == 1
    assert answer.finish_reason == "stop"
    assert done.usage == Usage(20, len(BROKEN) + len(FIXED))  # both attempts counted
    ask = backend.requests[1]
    assert ask.messages is not None and ask.code_check is None and ask.n == 1
    assert ask.messages[-2] == ChatMessage("assistant", BROKEN)
    assert ask.messages[-1].role == "user" and "line 1" in ask.messages[-1].content


async def test_repairs_are_bounded_and_the_best_attempt_is_kept() -> None:
    backend = Scripted(BROKEN, "no code at all (", STILL_BROKEN)
    done = await collect(run_with_code_check(request(repairs=2), backend.generate(request()),
                                             backend.generate))
    answer = done.choices[0]
    assert answer.code is not None and answer.code.repairs == 2 and answer.code.diagnostics
    assert len(backend.requests) == 3 and backend.closed == 3
    assert "def add(a, b)" in answer.text  # neither attempt had fewer errors than the answer


async def test_a_later_attempt_sees_the_earlier_failed_one_and_its_diagnostics() -> None:
    """Greedy decoding asked the same question gives the same answer: a second regeneration
    is asked after the first one's own reply and feedback, so it is asked something new."""
    backend = Scripted(BROKEN, STILL_BROKEN, FIXED)
    done = await collect(run_with_code_check(request(repairs=2), backend.generate(request()),
                                             backend.generate))
    assert done.choices[0].code is not None and done.choices[0].code.diagnostics == ()
    first, second = backend.requests[1].messages, backend.requests[2].messages
    assert first is not None and second is not None
    assert second[:len(first)] == first  # the same start: the answer, then its feedback
    reply, retry = second[len(first):]
    assert reply == ChatMessage("assistant", STILL_BROKEN)
    assert retry.role == "user" and retry.content.startswith("That code still does not parse")
    assert "the line: `def add(a, b`" in retry.content  # the attempt's own line, quoted
    assert "the line: `def add(a, b)`" in first[-1].content  # the answer's line


async def test_zero_repairs_reports_only() -> None:
    backend = Scripted(BROKEN)
    done = await collect(run_with_code_check(request(repairs=0), backend.generate(request()),
                                             backend.generate))
    assert done.choices[0].text == BROKEN and done.choices[0].code is not None
    assert done.choices[0].code.repairs == 0 and done.choices[0].code.diagnostics


async def test_streaming_repair_sends_clean_blocks_when_they_close() -> None:
    clean = "A:\n```python\nx = 1\n```\nB:\n```python\ny = (\n```\nafter"
    backend = Scripted(clean, "```python\ny = (2)\n```")
    req = request(stream=True)
    out: list[str] = []
    sent_when_out: int | None = None
    async for event in run_with_code_check(req, backend.generate(req), backend.generate):
        if isinstance(event, TextDelta) and event.text:
            out.append(event.text)
            if sent_when_out is None and "x = 1\n```" in "".join(out):
                sent_when_out = len("".join(backend.sent))
    # the clean block went out once it closed, while the answer was still being written
    assert sent_when_out is not None and sent_when_out < clean.index("y = (")
    text = "".join(out)
    assert text == clean.replace("y = (\n", "y = (2)\n")
    assert "y = (\n" not in text  # the broken block never went out


async def test_streaming_holds_everything_after_a_broken_block() -> None:
    backend = Scripted(BROKEN, FIXED)
    req = request(stream=True)
    stream = run_with_code_check(req, backend.generate(req), backend.generate)
    early = ""
    async for event in stream:
        if isinstance(event, TextDelta):
            early += event.text
        if isinstance(event, TextDelta) and len(backend.requests) == 1:
            assert "```" not in early  # the block (and what follows) waits for its check
    assert early.startswith("Sure:\n```python\ndef add(a, b):")


async def test_every_choice_is_checked_and_repaired_on_its_own() -> None:
    backend = Scripted(BROKEN, FIXED, FIXED)
    req = request(n=2)
    done = await collect(run_with_code_check(req, backend.generate(req), backend.generate), 2)
    assert [c.code.repairs for c in done.choices if c.code] == [1, 1]
    assert all("def add(a, b):" in c.text for c in done.choices)


async def test_an_unfenced_answer_is_repaired_whole_when_languages_are_named() -> None:
    backend = Scripted("def add(a, b)\n    return a + b\n", FIXED)
    req = replace(request(), code_check=CodeCheck("repair", ("python",), 1))
    done = await collect(run_with_code_check(req, backend.generate(req), backend.generate))
    assert done.choices[0].text == "def add(a, b):\n    return a + b\n"


async def test_a_cut_off_repair_says_length() -> None:
    backend = Scripted(BROKEN, "```python\ndef add(a, b):\n    return a")
    backend.finish = "length"
    done = await collect(run_with_code_check(request(), backend.generate(request()),
                                             backend.generate))
    assert done.choices[0].finish_reason == "length"


async def test_a_block_cut_off_and_never_repaired_keeps_its_complete_statements() -> None:
    """An answer that ran into max_tokens (a model repeating itself) and whose repairs ran
    into it too: the block is cut back to its last complete definition, closed, and parses."""
    looping = ("```python\ndef is_prime(n):\n    return n > 1\n\n"
               'def is_prime(n):\n    """Return true if')
    backend = Scripted(looping, looping, looping, finish="length")
    done = await collect(run_with_code_check(request(), backend.generate(request()),
                                             backend.generate))
    choice = done.choices[0]
    assert choice.text == "```python\ndef is_prime(n):\n    return n > 1\n```"
    assert choice.code is not None and choice.code.diagnostics == ()
    assert choice.code.repairs == 2 and choice.finish_reason == "length"


async def test_a_broken_block_not_cut_off_is_never_trimmed() -> None:
    middle = "```python\ndef ok():\n    return 1\n\ndef add(a, b)\n    return a + b\n```\n"
    backend = Scripted(middle, middle, middle)
    done = await collect(run_with_code_check(request(), backend.generate(request()),
                                             backend.generate))
    assert done.choices[0].text == middle
    assert done.choices[0].code is not None and done.choices[0].code.diagnostics


@pytest.mark.parametrize("stream", [False, True])
async def test_closing_the_stage_closes_the_generation(stream: bool) -> None:
    backend = Scripted(BROKEN * 20)
    req = request(stream=stream)
    stage = run_with_code_check(req, backend.generate(req), backend.generate)
    await anext(stage)
    await stage.aclose()
    assert backend.closed == 1
