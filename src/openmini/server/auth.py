"""Optional API key on /v1/* and /metrics (/health stays open): `Authorization: Bearer KEY`,
or `x-api-key: KEY` (Anthropic's header, what its SDK sends)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from openmini.errors import AuthenticationError
from openmini.server.errors import error_response


def is_protected(path: str) -> bool:
    return path == "/metrics" or path == "/v1" or path.startswith("/v1/")


def bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def x_api_key(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            return value.strip()
    return None


class ApiKeyMiddleware:
    """Rejects unauthenticated requests before any parsing. The key is never logged."""

    def __init__(self, app: ASGIApp, api_key: str):
        self.app = app
        self._key = api_key.encode()

    def _authorized(self, scope: Scope) -> bool:
        given = (bearer_token(scope), x_api_key(scope))
        return any(key is not None and hmac.compare_digest(key, self._key) for key in given)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_protected(scope["path"]) and not self._authorized(scope):
            error = AuthenticationError("Incorrect or missing API key. Send it as "
                                        "'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                                        code="invalid_api_key")
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)
