"""Every error leaves as the OpenAI envelope `{"error": {message, type, param, code}}`, except
on the Anthropic routes (/v1/messages...), where it leaves in Anthropic's
(server/anthropic/errors.py). The envelope is picked by path when the response is sent:
middleware (auth, body limit) answer before routing."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmini.errors import OpenMiniError
from openmini.server.anthropic import errors as anthropic_errors
from openmini.server.anthropic.errors import is_anthropic_path
from openmini.server.validation import validation_error

log = logging.getLogger("openmini.server")

INTERNAL = {"error": {"message": "The server had an error while processing your request.",
                      "type": "server_error", "param": None, "code": None}}


def error_envelope(exc: BaseException) -> dict[str, Any]:
    """The envelope for `exc`; unexpected exceptions are logged and reported generically."""
    if isinstance(exc, OpenMiniError):
        return exc.envelope()
    log.error("unexpected error", exc_info=exc)
    return INTERNAL


def error_response(exc: BaseException) -> JSONResponse:
    if not isinstance(exc, OpenMiniError):
        return ErrorResponse(exc, error_envelope(exc), 500, {})
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    return ErrorResponse(exc, exc.envelope(), exc.status, headers)


class ErrorResponse(JSONResponse):
    """The OpenAI envelope, or Anthropic's when sent on an Anthropic path."""

    def __init__(self, exc: BaseException, content: Any, status: int, headers: dict[str, str]):
        super().__init__(content, status_code=status, headers=headers)
        self.exc, self.extra_headers = exc, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_anthropic_path(scope.get("path", "")):
            response = anthropic_errors.error_response(self.exc, self.extra_headers)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _openmini_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = f"{exc.detail} ({request.method} {request.url.path})"
    if is_anthropic_path(request.url.path):
        return JSONResponse(anthropic_errors.envelope(exc.status_code, message),
                            status_code=exc.status_code, headers=exc.headers)
    body = {"error": {"message": message, "type": "invalid_request_error",
                      "param": None, "code": None}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


class UnexpectedErrorMiddleware:
    """Innermost safety net: an exception no handler took is logged once and becomes a 500
    envelope (or, mid-response, just ends the response). No traceback reaches the client."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                log.error("error after the response started", exc_info=exc)
            else:
                await error_response(exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OpenMiniError, _openmini_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(UnexpectedErrorMiddleware)
