"""A scripted HTTP upstream on loopback, for failure injection only: a real socket and real
HTTP/1.1 (chunked streams, keep-alive), each answer scripted byte by byte.

    with ScriptedUpstream() as up:
        up.script(Reply(429, {"Retry-After": "7"}, [b'{"error": ...}']))
        ... OpenAICompatBackend("s", up.base_url, ...) ...
        up.requests[-1].body["model"]

A `Reply`'s `body` is written piece by piece (a float piece sleeps that long: a hang);
`end=False` drops the connection where the pieces stop (death mid-stream); status 0 drops
it before any answer (a kept-alive connection the server had closed). Unscripted requests
get a 500.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes | float] = field(default_factory=list)
    chunked: bool = True
    end: bool = True


@dataclass(frozen=True)
class Received:
    path: str
    client_port: int
    headers: dict[str, str]
    body: Any


def sse(*chunks: object, done: bool = True) -> list[bytes | float]:
    """SSE frames: a dict is sent as JSON, bytes as they are; `[DONE]` last unless not."""
    frames: list[bytes | float] = [
        c if isinstance(c, bytes | float) else b"data: " + json.dumps(c).encode() + b"\n\n"
        for c in chunks]
    return [*frames, b"data: [DONE]\n\n"] if done else frames


def chunk(index: int = 0, content: str | None = None, finish: str | None = None,
          **delta: object) -> dict[str, Any]:
    """One chat.completion.chunk with one choice."""
    d: dict[str, Any] = dict(delta)
    if content is not None:
        d["content"] = content
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "up",
            "choices": [{"index": index, "delta": d, "finish_reason": finish}]}


def usage(prompt: int, completion: int, **extra: object) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "up",
            "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion, **extra}}


class ScriptedUpstream:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()

    def __enter__(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(up: ScriptedUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle(self) -> None:
            with contextlib.suppress(OSError):  # a kept-alive connection the client dropped
                super().handle()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            up.requests.append(Received(self.path, self.client_address[1], {k.lower(): v for k, v in
                                                    self.headers.items()}, json.loads(raw)))
            reply = up.replies.popleft() if up.replies else Reply(500, body=[b"unscripted"])
            try:
                self._answer(reply)
            except OSError:  # the client went away
                self.close_connection = True

        def _answer(self, reply: Reply) -> None:
            if reply.status == 0:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(reply.status)
            kind = "text/event-stream" if reply.status == 200 else "application/json"
            for name, value in {"Content-Type": kind, **reply.headers}.items():
                self.send_header(name, value)
            data = [p for p in reply.body if isinstance(p, bytes)]
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(sum(map(len, data))))
            self.end_headers()
            self.wfile.flush()
            for piece in reply.body:
                if isinstance(piece, float):
                    up.stopping.wait(piece)
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked
                                 else piece)
                self.wfile.flush()
            if not reply.end:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif reply.chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

    return Handler
