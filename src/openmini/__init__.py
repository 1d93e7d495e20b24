"""openmini: a self-hosted mini model service with an OpenAI-compatible API."""

from openmini.types import (
    ChatMessage,
    Finished,
    Request,
    SamplingParams,
    TextDelta,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Finished",
    "Request",
    "SamplingParams",
    "TextDelta",
    "Usage",
]
__version__ = "0.1.0"
