"""Client disconnect cancels work at once.

Both response paths run their work in a child task next to a watcher on the ASGI `receive`
channel; `http.disconnect` cancels the task and waits for it to unwind, so the cancellation
has reached the backend (its stream closed) before the handler returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client went away before the response was complete."""


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await `work` in this task while a watcher reads `receive`; a disconnect cancels this
    task, which unwinds `work` (closing the streams, so the backend cancels) and raises
    ClientDisconnected. Running `work` here rather than in a child task saves a task hop on
    every response."""
    task = asyncio.current_task()
    assert task is not None
    state = {"finished": False, "disconnected": False}

    def on_disconnect(watcher: asyncio.Future[None]) -> None:
        if state["finished"] or watcher.cancelled() or watcher.exception() is not None:
            return
        state["disconnected"] = True
        task.cancel()

    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        return await work
    except asyncio.CancelledError:
        if not state["disconnected"]:
            raise
        task.uncancel()
        raise ClientDisconnected() from None
    finally:
        state["finished"] = True
        watcher.cancel()


class WatchedResponse(Response):
    """A response whose whole body-producing coroutine is cancelled on disconnect.

    `respond(scope, receive, send)` does the work and sends everything itself; an exception
    it raises before sending anything still reaches the app's exception handlers.
    """

    def __init__(self, respond: Callable[[Scope, Receive, Send], Awaitable[Any]]):
        self.respond = respond
        self.status_code = 200
        self.background = None
        self.init_headers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with suppress(ClientDisconnected):
            await run_until_disconnect(receive, self.respond(scope, receive, send))
