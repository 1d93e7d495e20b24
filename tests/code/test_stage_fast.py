"""code_check repair on the real `fast` model (Qwen2.5-Coder-0.5B): its first answer is held
to a broken block by a regex, the repair is the model's own, unconstrained."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from openmini.code.parse import parse
from openmini.decoding.constraint import Constraint

BROKEN = r"```python\ndef add\(a, b\)\n    return a \+ b\n```"


@pytest.fixture(scope="module")
def fast_om() -> Iterator[Any]:
    from openmini.api import AsyncOpenMini
    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig

    backend = LocalBackend(EngineConfig(model="fast", threads=2, parallel=2, ctx_size=2048))
    yield AsyncOpenMini(backend=backend)
    asyncio.run(backend.close())


def test_the_real_model_repairs_a_block_that_does_not_parse(fast_om: Any) -> None:
    async def go() -> Any:
        return await fast_om.chat(
            "Write a Python function add(a, b) that returns their sum.", temperature=0,
            max_tokens=120, constraint=Constraint.regex(BROKEN, "constraint"),
            code_check={"mode": "repair", "max_repairs": 2})

    done = asyncio.run(go())
    answer = done.choices[0]
    assert answer.code is not None and 1 <= answer.code.repairs <= 2
    assert answer.code.diagnostics == ()
    code = answer.text.split("```python\n", 1)[1].split("```", 1)[0]
    assert parse(code, "python").ok and "def add(a, b):" in code
    assert done.usage.completion_tokens > 20  # the held answer and the repair both counted


def test_report_on_the_real_model_leaves_the_answer_as_written(fast_om: Any) -> None:
    async def go() -> Any:
        return await fast_om.chat(
            "Write a Python function add(a, b).", temperature=0, max_tokens=60,
            constraint=Constraint.regex(BROKEN, "constraint"), code_check={"mode": "report"})

    answer = asyncio.run(go()).choices[0]
    assert "def add(a, b)\n" in answer.text
    assert answer.code is not None and answer.code.repairs is None
    assert [d["language"] for d in answer.code.diagnostics][:1] == ["python"]
