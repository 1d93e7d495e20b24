"""`openmini run/chat --code-check`: the answer on stdout, the findings on stderr."""

from __future__ import annotations

import asyncio

import pytest

from openmini.api import AsyncOpenMini
from openmini.cli.session import _stream_reply
from openmini.types import ChatMessage
from server.fake_backend import FakeBackend

BROKEN = ("Here:\n", "```python\n", "def f(:\n", "    pass\n", "```\n")
FIXED = ("```python\ndef f():\n    pass\n```",)


@pytest.mark.parametrize("mode", ["report", "repair"])
def test_code_check_findings_go_to_stderr(mode: str, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    client = AsyncOpenMini(backend=FakeBackend(answers=[BROKEN, FIXED]))
    reply = asyncio.run(_stream_reply(client, [ChatMessage("user", "f")],
                                      {"code_check": {"mode": mode}}))
    out, err = capsys.readouterr()
    assert out == reply + "\n" and "code:" not in out
    if mode == "report":
        assert "def f(:" in reply and "code: block 1 (python) 1:" in err
    else:
        assert "def f():" in reply
        assert "code: 1 repair(s) made" in err and "code: every block parses" in err
