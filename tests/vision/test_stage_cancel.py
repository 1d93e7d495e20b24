"""A request cancelled while its image is still being fetched (the client went away) stops
at once: the vision stage's fetch is cancelled, nothing waits for the slow server."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from openmini.types import ChatMessage, ImagePart, Request
from openmini.vision.policy import ImageLimits, SourcePolicy
from openmini.vision.stage import Intake

ANSWERED = threading.Event()  # set once the slow server has answered


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(3)
        ANSWERED.set()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def slow_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow.png"
    server.shutdown()


async def test_a_cancelled_request_stops_fetching_at_once(slow_url: str) -> None:
    intake = Intake(SourcePolicy(allow_hosts=("127.0.0.1",), timeout_s=10), ImageLimits())
    request = Request(model="m", messages=(
        ChatMessage("user", "What is this?", images=(ImagePart(url=slow_url),)),))
    ANSWERED.clear()
    task = asyncio.create_task(intake.resolve(request, "perception"))
    await asyncio.sleep(0.3)  # the fetch is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ANSWERED.is_set()  # the request ended before the server would have answered
