"""A request body past `max_body_bytes` is a 413 in the error envelope, not read to the end.

A declared Content-Length over the limit is answered at once; a body sent without one
(chunked) is counted as it arrives and refused when it passes the limit (the error raised from
`receive` reaches whichever reader asked, and the app's handlers turn it into the envelope).
Images make bodies large (a data: URL is 4/3 of its bytes), so the limit is the server's own
setting rather than the ASGI server's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmini.errors import PayloadTooLarge
from openmini.server.errors import error_response


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes "
                               "(max_body_bytes).", code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await error_response(self._refusal())(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._refusal()
            return message

        await self.app(scope, counting if declared is None else receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
