"""Fenced code blocks found in an answer, whole or as it streams."""

from __future__ import annotations

import pytest

from openmini.code.blocks import FenceScanner, dedent, fenced_blocks, indent_lines

ANSWER = ("Here it is:\n```python\ndef f():\n    return 1\n```\nand a shell line:\n"
          "~~~~ bash\necho hi\n~~~~\nDone.")


def codes(text: str) -> list[tuple[str | None, str]]:
    return [(b.info, b.code(text)) for b in fenced_blocks(text)]


def test_backtick_and_tilde_fences_with_info_strings() -> None:
    assert codes(ANSWER) == [("python", "def f():\n    return 1\n"), ("bash", "echo hi\n")]
    first = fenced_blocks(ANSWER)[0]
    assert ANSWER[first.fence_at:].startswith("```python") and first.fence == "```"


def test_a_closing_fence_must_be_as_long_and_alone() -> None:
    text = "````md\n```py\nx\n```\n````\n"
    assert codes(text) == [("md", "```py\nx\n```\n")]
    assert codes("```py\nx = 1 ```\ny\n```") == [("py", "x = 1 ```\ny\n")]


def test_backticks_in_the_info_string_are_not_a_fence() -> None:
    assert codes("```a`b\nx\n") == []


def test_an_unclosed_block_runs_to_the_end() -> None:
    [block] = fenced_blocks("Text\n```go\nfunc main() {")
    assert not block.closed and block.code("Text\n```go\nfunc main() {") == "func main() {"


def test_an_indented_fence_in_a_list_item_is_dedented() -> None:
    text = "1. Run:\n   ```python\n   if x:\n       y()\n   ```\n"
    [block] = fenced_blocks(text)
    assert block.indent == "   " and block.code(text) == "if x:\n    y()\n"
    assert indent_lines("if x:\n\n    y()\n", "  ") == "  if x:\n\n      y()\n"
    assert dedent("  a\n b\n", "  ") == "a\nb\n"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_streamed_in_any_pieces_it_finds_the_same_blocks(size: int) -> None:
    scanner, closed = FenceScanner(), []
    for i in range(0, len(ANSWER), size):
        closed += scanner.push(ANSWER[i:i + size])
        assert scanner.settled <= len(scanner.text)
    closed += scanner.finish()
    assert closed == fenced_blocks(ANSWER) == scanner.blocks


def test_settled_text_stops_before_what_may_still_be_a_fence() -> None:
    scanner = FenceScanner()
    scanner.push("Intro line\n``")
    assert scanner.settled == len("Intro line\n")  # "``" may become a fence
    scanner.push("`py\nx")
    assert scanner.open_at == len("Intro line\n") and scanner.settled == len("Intro line\n")
    [block] = scanner.push("\n```\nafter")
    assert block.code(scanner.text) == "x\n"
    assert scanner.settled == len(scanner.text)  # "after" cannot open a fence
    scanner.push(" `code` span")
    assert scanner.settled == len(scanner.text)
