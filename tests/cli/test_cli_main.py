"""The `openmini` command over the real `tiny` model: run (stdin, pipes) and chat (multi-turn)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.model

CLI = [sys.executable, "-m", "openmini.cli.main"]


def test_help_lists_commands_and_serve_flags() -> None:
    out = subprocess.run([*CLI, "serve", "--help"], capture_output=True, text=True, check=True,
                         env={"COLUMNS": "200", "PATH": ""})
    for flag in ("--model", "--host", "--port", "--threads", "--parallel", "--ctx-size",
                 "--api-key", "--max-queue"):
        assert flag in out.stdout


def test_run_reads_stdin_and_writes_only_the_answer() -> None:
    out = subprocess.run([*CLI, "run", "Repeat after me:", "--model", "tiny", "--max-tokens", "6",
                          "--temperature", "0", "--threads", "2"],
                         input="hello world", capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip()
    assert "llama" not in out.stdout  # no engine logs in the pipe
    assert len(out.stdout.splitlines()) <= 3


def test_run_without_prompt_is_an_error() -> None:
    out = subprocess.run([*CLI, "run", "--model", "tiny"], input="", capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert "prompt" in out.stderr.lower()


def test_a_bad_setting_is_a_one_line_error() -> None:
    import os

    env = {**os.environ, "OPENMINI_THREADS": "two"}
    out = subprocess.run([*CLI, "serve", "--model", "tiny"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 2
    assert "OPENMINI_THREADS='two' is not a valid int" in out.stderr
    assert "Traceback" not in out.stderr


def test_chat_is_multi_turn_until_eof() -> None:
    out = subprocess.run([*CLI, "chat", "--model", "tiny", "--threads", "2", "--max-tokens", "16"],
                         input="My name is Ada.\nWhat is my name?\n/exit\n",
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.count(">>> ") == 3  # two answered turns, then the prompt that read /exit
    answers = [line for line in out.stdout.split(">>> ") if line.strip()]
    assert len(answers) == 2


def test_run_with_reasoning_puts_the_reasoning_on_stderr() -> None:
    out = subprocess.run([*CLI, "run", "What is 2 + 2?", "--model", "tiny", "--max-tokens",
                          "60", "--temperature", "0", "--threads", "2", "--reasoning-effort",
                          "minimal"], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() and out.stderr.strip()
    assert out.stderr.strip() not in out.stdout  # the pipe gets the answer only


def test_run_rejects_an_unknown_effort() -> None:
    out = subprocess.run([*CLI, "run", "hi", "--model", "tiny", "--reasoning-effort", "huge"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--reasoning-effort" in out.stderr


def test_run_with_an_image_and_with_a_file_that_is_not_one(tmp_path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    picture = tmp_path / "sign.png"
    image = Image.new("RGB", (500, 120), "white")
    ImageDraw.Draw(image).text((20, 30), "EXIT 12", fill="black",
                               font=ImageFont.load_default(size=40))
    image.save(picture)
    ok = subprocess.run([*CLI, "run", "What does the sign say?", "--image", str(picture),
                         "--model", "tiny", "--max-tokens", "8", "--temperature", "0",
                         "--threads", "2"], capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr[-2000:]
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    bad = subprocess.run([*CLI, "run", "What is this?", "--image", str(text), "--model", "tiny"],
                         capture_output=True, text=True, timeout=180)
    assert bad.returncode == 1
    assert "error: " in bad.stderr and "not an image" in bad.stderr
    assert "Traceback" not in bad.stderr
