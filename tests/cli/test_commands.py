"""The chat REPL's slash commands (cli/commands.py): never sent to the model; unknown ones are
an error message; /image attaches to the next message only; /clear keeps the system message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from openmini.cli.commands import COMMANDS, Conversation, is_command, run_command
from openmini.types import ChatMessage


def png(path: Path) -> Path:
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def test_lines_that_are_commands() -> None:
    assert is_command("/help") and is_command("/image x.png")
    assert not is_command("hello") and not is_command("//etc/hosts")


def test_unknown_command_is_an_error_not_a_question() -> None:
    state = Conversation()
    assert run_command(state, "/frobnicate now").startswith("error: unknown command /frobnicate")
    assert state.history == [] and not state.done


def test_help_lists_every_command() -> None:
    said = run_command(Conversation(), "/help")
    for name in ("image", "system", "clear", "help", "exit"):
        assert f"/{name}" in said
    assert set(COMMANDS) >= {"image", "system", "clear", "help", "exit"}


def test_image_attaches_to_the_next_message_only(tmp_path: Path) -> None:
    state = Conversation()
    assert "attached" in run_command(state, f"/image {png(tmp_path / 'a.png')}")
    assert run_command(state, f"/image {tmp_path / 'missing.png'}").startswith("error:")
    assert run_command(state, "/image").startswith("usage:")
    first = state.user_turn("What colour?")
    assert len(first.images) == 1 and first.images[0].data
    assert state.user_turn("And now?").images == ()


def test_system_clear_and_exit() -> None:
    state = Conversation(system="Be brief.")
    state.history.append(ChatMessage("user", "hi"))
    run_command(state, "/system Answer in French.")
    assert state.messages()[0] == ChatMessage("system", "Answer in French.")
    assert run_command(state, "/clear") == "new conversation"
    assert state.history == [] and state.system == "Answer in French."
    run_command(state, "/exit")
    assert state.done


@pytest.mark.model
def test_chat_runs_commands_and_sends_only_messages(tmp_path: Path) -> None:
    """On the real `tiny` model: /help and an unknown command print and are not answered; an
    image the model cannot see (tiny has perception: it is described) does not break the
    session."""
    lines = ["/help", "/nope", f"/image {png(tmp_path / 'red.png')}", "What is this?", "/exit"]
    out = subprocess.run([sys.executable, "-m", "openmini.cli.main", "chat", "--model", "tiny",
                          "--threads", "2", "--max-tokens", "8", "--temperature", "0"],
                         input="\n".join(lines) + "\n", capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "attach an image" in out.stdout and "unknown command /nope" in out.stdout
    assert "attached red.png" in out.stdout
    assert out.stdout.count(">>> ") == 5  # five lines read, one of them answered
