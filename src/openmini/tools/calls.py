"""A tool call as the API returns it, and OpenAI-style call ids."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call. `arguments` is JSON text, exactly as OpenAI returns it."""

    id: str
    name: str
    arguments: str


def new_call_id() -> str:
    """`call_` and 24 random alphanumerics, the shape of OpenAI's tool call ids."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))
