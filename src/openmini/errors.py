"""One exception tree. Each error knows its HTTP status, OpenAI error type and retryability."""

from __future__ import annotations


class OpenMiniError(Exception):
    """Base of every error openmini raises on purpose."""

    status: int = 500
    type: str = "server_error"
    retryable: bool = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def envelope(self) -> dict[str, object]:
        """The OpenAI error envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(OpenMiniError):
    status = 400
    type = "invalid_request_error"


class UnsupportedParameter(InvalidRequest):
    """A parameter we know of but do not honour, or one we do not know at all."""

    def __init__(self, param: str, reason: str = "is not supported"):
        super().__init__(f"Unsupported parameter: '{param}' {reason}.", param=param,
                         code="unsupported_parameter")


class ImageRefused(InvalidRequest):
    """An image that cannot be taken: fetched, read or decoded, or past a limit. Raised by
    vision/ with the cause alone; the stage that knows where the image sits in the request
    names it (`messages[i].content[j].image_url`) with `at`."""

    def __init__(self, message: str, *, param: str | None = None,
                 code: str = "invalid_image"):
        super().__init__(message, param=param, code=code)

    def at(self, where: str) -> ImageRefused:
        """The same refusal, naming the part: "messages[1].content[0].image_url: <cause>"."""
        return ImageRefused(f"{where}: {self.message}", param=where, code=self.code or "")


class PayloadTooLarge(InvalidRequest):
    status = 413


class ContextLengthExceeded(InvalidRequest):
    def __init__(self, message: str, param: str = "messages"):
        super().__init__(message, param=param, code="context_length_exceeded")


class AuthenticationError(OpenMiniError):
    status = 401
    type = "authentication_error"


class PermissionDenied(OpenMiniError):
    """A request for something the server's configuration does not allow (a directory
    outside the index roots); `param` names the parameter."""

    status = 403
    type = "permission_error"

    def __init__(self, message: str, *, param: str | None = None,
                 code: str = "permission_denied"):
        super().__init__(message, param=param, code=code)


class ModelNotFound(OpenMiniError):
    status = 404
    type = "invalid_request_error"

    def __init__(self, model: str):
        super().__init__(f"The model '{model}' does not exist.", param="model",
                         code="model_not_found")


class NotFound(OpenMiniError):
    """An object (a file, a batch) that does not exist; `param` names the id's parameter."""

    status = 404
    type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str = "not_found"):
        super().__init__(message, param=param, code=code)


class Conflict(OpenMiniError):
    """An object that exists already (an index's name); `param` names the parameter."""

    status = 409
    type = "invalid_request_error"


class Overloaded(OpenMiniError):
    """The request queue is full; the client should retry after `retry_after` seconds."""

    status = 429
    type = "rate_limit_error"
    retryable = True

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message, code="queue_full")
        self.retry_after = retry_after


class DeadlineExceeded(OpenMiniError):
    status = 408
    type = "timeout_error"
    retryable = True


class ModelAssemblyError(OpenMiniError):
    """A model file could not be assembled or failed its checksum."""

    status = 500
    type = "server_error"


class EngineError(OpenMiniError):
    status = 500
    type = "server_error"
    retryable = True


# "connect" | "timeout" | "disconnect" | "rate_limit" | "server" | "client" | "protocol"
UpstreamKind = str
RETRYABLE_KINDS = frozenset({"connect", "timeout", "disconnect", "rate_limit", "server"})


class UpstreamError(OpenMiniError):
    """An upstream provider (router/, backends/openai_compat.py, backends/anthropic.py)
    failed. `kind` says how: "connect" (no connection), "timeout", "disconnect" (the
    connection broke off mid-answer), "rate_limit" (429), "server" (5xx), "client" (another
    4xx: the request itself; its status is passed on), "protocol" (an answer that is not the
    API's: malformed JSON, a stream that ends without its end). Retryable from the kind
    alone, never from the message text: connect, timeout, disconnect, rate_limit, server.
    `retry_after`: seconds, from the upstream's Retry-After."""

    type = "upstream_error"

    def __init__(self, message: str, *, kind: UpstreamKind, status: int = 502,
                 provider: str | None = None, retry_after: float | None = None,
                 param: str | None = None, code: str | None = None):
        super().__init__(message, param=param, code=code)
        self.kind = kind
        self.status = status
        self.provider = provider
        self.retry_after = retry_after
        self.retryable = kind in RETRYABLE_KINDS
