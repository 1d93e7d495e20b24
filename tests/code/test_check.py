"""Which code in an answer is checked, in which language, and how a repair is put back."""

from __future__ import annotations

import pytest

from openmini.code.blocks import fenced_blocks
from openmini.code.check import (
    CodeCheck,
    check_answer,
    code_check_of,
    code_of_reply,
    repair_prompt,
    splice,
)
from openmini.code.languages import language_for
from openmini.errors import InvalidRequest

BROKEN_PY = "def f(:\n    return 1\n"
ANSWER = (f"First:\n```py\n{BROKEN_PY}```\nThen:\n```js\nconst a = [1, 2;\n```\n"
          "Output:\n```text\nnot code (\n```\n")


def diagnostics(text: str, spec: CodeCheck | None = None) -> list[dict[str, object]]:
    return [d for c in check_answer(text, spec or CodeCheck()) for d in c.diagnostics()]


def test_each_fenced_block_is_parsed_in_its_fence_language() -> None:
    found = diagnostics(ANSWER)
    assert {(d["block"], d["language"]) for d in found} == {(0, "python"), (1, "javascript")}
    first = next(d for d in found if d["block"] == 0)
    assert first["line"] == 1 and 1 <= int(str(first["column"])) <= 7  # inside the block
    assert set(first) == {"block", "language", "line", "column", "node", "message"}


def test_a_fence_naming_no_language_is_not_checked() -> None:
    assert diagnostics("```output\nnot ( code\n```\n```\n```") == []


def test_an_unlabelled_block_is_detected_among_the_requested_languages() -> None:
    text = "```\nfn main() { let x = 1; }\n```"
    [checked] = check_answer(text, CodeCheck(languages=("rust",)))
    assert checked.language.name == "rust" and checked.parsed.ok
    [guessed] = check_answer(text, CodeCheck())
    assert guessed.language.name == "rust"


def test_an_unfenced_answer_is_code_only_when_languages_are_named() -> None:
    assert check_answer(BROKEN_PY, CodeCheck()) == []
    [whole] = check_answer(BROKEN_PY, CodeCheck(languages=("python",)))
    assert whole.block.info is None and not whole.parsed.ok


def test_the_spec_names_what_is_wrong() -> None:
    assert code_check_of("repair", ["PY", "c++", "python"], 3) == CodeCheck(
        "repair", ("python", "cpp"), 3)
    for args, param in [(("fix", None, None), "code_check.mode"),
                        (("report", ["python", "klingon"], None), "code_check.languages[1]"),
                        (("repair", None, 9), "code_check.max_repairs"),
                        (("repair", None, -1), "code_check.max_repairs")]:
        with pytest.raises(InvalidRequest) as info:
            code_check_of(*args)  # type: ignore[arg-type]
        assert info.value.param == param


def test_the_repair_prompt_carries_the_diagnostics() -> None:
    [checked, _] = check_answer(ANSWER, CodeCheck())
    prompt = repair_prompt(checked)
    assert "Code block 1" in prompt and "python" in prompt and "line 1, column" in prompt
    assert "```python" in prompt


def test_the_code_of_a_reply() -> None:
    python = language_for("python")
    assert code_of_reply("Fixed:\n```js\nx\n```\n```python\nok()\n```", python) == "ok()\n"
    assert code_of_reply("```\nok()\n```", python) == "ok()\n"
    assert code_of_reply("\nok()", python) == "ok()\n"


def test_splice_keeps_the_prose_and_the_indentation() -> None:
    text = "1. Do:\n   ```python\n   if x\n   ```\nEnd."
    [block] = fenced_blocks(text)
    new, moved = splice(text, block, "if x:\n    y()")
    assert new == "1. Do:\n   ```python\n   if x:\n       y()\n   ```\nEnd."
    assert moved.code(new) == "if x:\n    y()\n"


def test_splice_closes_a_block_that_was_cut_off() -> None:
    text = "Here:\n```go\nfunc main() {"
    [block] = fenced_blocks(text)
    new, moved = splice(text, block, "func main() {}\n")
    assert new == "Here:\n```go\nfunc main() {}\n```" and moved.closed
    assert fenced_blocks(new)[0].code(new) == "func main() {}\n"
