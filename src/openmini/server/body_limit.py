"""A request body past `max_body_bytes` is a 413 in the error envelope, not read to the end.

A declared Content-Length over the limit is answered at once; a body sent without one
(chunked) is counted as it arrives and refused when it passes the limit (the error raised from
`receive` reaches whichever reader asked, and the app's handlers turn it into the envelope).
Images make bodies large (a data: URL is 4/3 of its bytes), so the limit is the server's own
setting rather than the ASGI server's. A path may have its own limit (`paths`): uploads to
POST /v1/files take `batch_max_bytes` plus the multipart envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmini.errors import PayloadTooLarge
from openmini.server.errors import error_response


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `max_bytes` in a body; `setting` is the configuration key that says so."""

    max_bytes: int
    setting: str

    def refusal(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes "
                               f"({self.setting}).", code="request_too_large")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, paths: Mapping[str, Limit] | None = None):
        self.app = app
        self.default = Limit(max_bytes, "max_body_bytes")
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await error_response(limit.refusal())(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.max_bytes:
                    raise limit.refusal()
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
