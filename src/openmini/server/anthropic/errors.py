"""Errors on the Anthropic routes: `{"type": "error", "error": {"type", "message"}}`.

Our error tree's HTTP status is kept (the SDK picks its exception class from it); the type
name is Anthropic's for that status. Every other route keeps the OpenAI envelope
(server/errors.py picks by path when the response is sent).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from openmini.errors import OpenMiniError

PATH = "/v1/messages"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
INTERNAL = "The server had an error while processing your request."


def is_anthropic_path(path: str) -> bool:
    return path == PATH or path.startswith(PATH + "/")


def error_type(status: int) -> str:
    """Anthropic's type name for an HTTP status (other 4xx: invalid_request_error, other
    5xx: api_error)."""
    known = ERROR_TYPES.get(status)
    if known is not None:
        return known
    return "api_error" if status >= 500 else "invalid_request_error"


def envelope(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def status_and_message(exc: BaseException) -> tuple[int, str]:
    """Unexpected exceptions are reported generically (the caller has logged them)."""
    if isinstance(exc, OpenMiniError):
        return exc.status, exc.message
    return 500, INTERNAL


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> JSONResponse:
    status, message = status_and_message(exc)
    return JSONResponse(envelope(status, message), status_code=status, headers=headers)

