"""The router over scripted deployments: direct requests, groups load-balanced, retries on
retryable failures before the first event only, fallbacks, breakers, Retry-After, where each
request went (`request.route`), cancellation reaching the deployment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openmini.backends.base import Capabilities
from openmini.errors import InvalidRequest, ModelNotFound, UpstreamError
from openmini.pipeline import collect
from openmini.router import Router
from openmini.router import router as router_mod
from openmini.router.config import GroupConfig
from openmini.types import ChatMessage, Request

from .scripted import Scripted


def ask(model: str) -> Request:
    return Request(model=model, messages=(ChatMessage("user", "hi"),))


def server_error(status: int = 500, retry_after: float | None = None) -> UpstreamError:
    kind = "rate_limit" if status == 429 else "server"
    return UpstreamError("upstream failed", kind=kind, status=status, retry_after=retry_after)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays the router waits, recorded instead of slept."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(router_mod.asyncio, "sleep", sleep)
    return waited


def group(*members: str, fallbacks: tuple[str, ...] = (), **kw: Any) -> GroupConfig:
    return GroupConfig("chat", tuple(members), fallbacks, **kw)


async def test_a_named_deployment_answers_and_says_so() -> None:
    a, b = Scripted(("a",), "from a"), Scripted(("b",), "from b")
    router = Router([a, b])
    request = ask("b")
    out = await collect(router.generate(request))
    assert out.text == "from b" and not a.calls
    assert request.route.header() == "deployment=b; reason=primary"
    with pytest.raises(ModelNotFound):
        router.generate(ask("c"))


async def test_a_group_retries_the_next_member_then_falls_back(sleeps: list[float]) -> None:
    a = Scripted(("a",), "a", failures=[server_error(), server_error()])
    b = Scripted(("b",), "b", failures=[server_error()])
    c = Scripted(("c",), "c")
    router = Router([a, b, c], [group("a", "b", fallbacks=("c",), retries=1)])
    request = ask("chat")
    out = await collect(router.generate(request))
    assert out.text == "c" and len(a.calls) + len(b.calls) == 2
    assert request.route.header() == "group=chat; deployment=c; reason=fallback"
    assert len(sleeps) == 2 and all(0 <= s <= 2.0 for s in sleeps)
    assert router.deployments["a"].errors["server"] + router.deployments["b"].errors["server"] == 2


async def test_a_retry_reports_itself() -> None:
    a = Scripted(("a",), "a", failures=[server_error()])
    b = Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b", backoff_s=0.0)])
    router.deployments["b"].outstanding = 1  # a is the less loaded: tried first
    request = ask("chat")
    assert (await collect(router.generate(request))).text == "b"
    assert request.route.deployment == "b" and request.route.reason == "retry"


async def test_a_client_error_is_not_retried_elsewhere() -> None:
    bad = UpstreamError("bad request", kind="client", status=400)
    a, b = Scripted(("a",), failures=[bad]), Scripted(("b",))
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1
    with pytest.raises(UpstreamError) as caught:
        await collect(router.generate(ask("chat")))
    assert caught.value.status == 400 and not b.calls
    with pytest.raises(InvalidRequest):  # nor is our own 400
        a.failures = [InvalidRequest("nope")]
        await collect(router.generate(ask("a")))


async def test_nothing_is_retried_after_the_first_event() -> None:
    a = Scripted(("a",), "partial", failures=[server_error()], mid_stream=True)
    b = Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1
    seen: list[str] = []
    with pytest.raises(UpstreamError):
        async for event in router.generate(ask("chat")):
            seen.append(getattr(event, "text", ""))
    assert seen == ["partial"] and not b.calls


async def test_retry_after_is_honoured_on_the_same_deployment(sleeps: list[float]) -> None:
    a = Scripted(("a",), "a", failures=[server_error(429, retry_after=1.5)])
    router = Router([a], [group("a", retries=1)])
    assert (await collect(router.generate(ask("chat")))).text == "a"
    assert sleeps == [1.5] or (len(sleeps) == 1 and sleeps[0] >= 1.5)


async def test_the_breaker_opens_skips_then_probes(monkeypatch: pytest.MonkeyPatch,
                                                   sleeps: list[float]) -> None:
    clock = [100.0]
    monkeypatch.setattr("openmini.router.deployment.time.monotonic", lambda: clock[0])
    a = Scripted(("a",), "a", failures=[server_error()] * 2)
    b = Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b", retries=1, breaker_failures=2,
                                   breaker_cooldown_s=5.0)])
    router.deployments["b"].outstanding = 1  # a first while it is healthy
    for _ in range(2):
        assert (await collect(router.generate(ask("chat")))).text == "b"
    assert router.deployments["a"].breaker.state == "open"
    calls = len(a.calls)
    assert (await collect(router.generate(ask("chat")))).text == "b"
    assert len(a.calls) == calls  # skipped while open
    clock[0] += 5.0  # half-open: one probe, which succeeds and closes it
    assert (await collect(router.generate(ask("chat")))).text == "a"
    assert router.deployments["a"].breaker.state == "closed"


async def test_a_refused_connection_takes_a_deployment_out_at_once(
        sleeps: list[float]) -> None:
    a = Scripted(("a",), failures=[UpstreamError("refused", kind="connect")])
    b = Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1
    assert (await collect(router.generate(ask("chat")))).text == "b"
    assert router.deployments["a"].breaker.state == "open"


async def test_load_goes_to_the_least_outstanding_member() -> None:
    a, b = Scripted(("a",), "a", delay=0.05), Scripted(("b",), "b", delay=0.05)
    router = Router([a, b], [group("a", "b")])
    outs = await asyncio.gather(*(collect(router.generate(ask("chat"))) for _ in range(4)))
    assert sorted(o.text for o in outs) == ["a", "a", "b", "b"]


async def test_closing_the_stream_closes_the_deployments() -> None:
    a = Scripted(("a",), "a", delay=0.0)
    router = Router([a], [group("a")])
    stream = router.generate(ask("chat"))
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert a.closed_streams == 1 and router.deployments["a"].outstanding == 0


def test_a_group_takes_what_one_member_can_and_sends_it_there() -> None:
    a = Scripted(("a",), capabilities=Capabilities(max_n=4, vision="native"))
    b = Scripted(("b",), capabilities=Capabilities(max_n=1, reasoning=False, token_hooks=False,
                                                   vision="perception"))
    router = Router([a, b], [group("a", "b")])
    caps = router.capabilities("chat")
    assert caps.reasoning and caps.token_hooks  # a can: the request is sent where it can
    assert caps.max_n == 1 and caps.vision == "perception"  # what every one can
    assert router.model_ids() == ["a", "b", "chat"]


async def test_a_member_that_cannot_serve_a_request_passes_it_on() -> None:
    from openmini.errors import UnsupportedParameter

    a = Scripted(("a",), failures=[UnsupportedParameter("bad_words")] * 2)
    b = Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1  # a first
    request = ask("chat")
    assert (await collect(router.generate(request))).text == "b"
    assert router.deployments["a"].breaker.consecutive == 0  # not counted as a failure
    a.failures = b.failures = [UnsupportedParameter("bad_words")] * 3
    with pytest.raises(UnsupportedParameter, match="bad_words"):
        await collect(router.generate(ask("chat")))


def test_groups_must_name_served_models_and_not_shadow_them() -> None:
    a = Scripted(("a",))
    with pytest.raises(ValueError, match="no model 'x'"):
        Router([a], [group("a", fallbacks=("x",))])
    with pytest.raises(ValueError, match="served"):
        Router([a], [GroupConfig("a", ("a",))])
    with pytest.raises(ValueError, match="twice"):
        Router([a, Scripted(("a",))])


async def test_every_breaker_open_is_a_503(sleeps: list[float]) -> None:
    a = Scripted(("a",))
    router = Router([a], [group("a")])
    router.deployments["a"].breaker.trip()
    with pytest.raises(UpstreamError) as caught:
        await collect(router.generate(ask("chat")))
    assert caught.value.status == 503 and not a.calls


def prefilling(ids: tuple[str, ...], text: str, **kw: Any) -> Scripted:
    return Scripted(ids, text, capabilities=Capabilities(prefill=True), **kw)


async def test_a_stream_that_breaks_off_is_continued_by_the_next_member(
        sleeps: list[float]) -> None:
    a = prefilling(("a",), "Hello", failures=[server_error()], mid_stream=True)
    b = prefilling(("b",), " world")
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1  # a first
    request = ask("chat")
    out = await collect(router.generate(request))
    assert out.text == "Hello world" and out.choices[0].finish_reason == "stop"
    (continued,) = b.calls
    assert continued.continue_final and continued.messages is not None
    assert continued.messages[-1] == ChatMessage("assistant", "Hello")
    assert request.route.header() == "group=chat; deployment=b; reason=recovered"
    assert out.usage.completion_tokens == 2  # one token on each deployment


async def test_no_recovery_where_a_continuation_would_mean_something_else(
        sleeps: list[float]) -> None:
    from openmini.tools.spec import ToolSpec

    a = prefilling(("a",), "Hello", failures=[server_error()], mid_stream=True)
    b = prefilling(("b",), " world")
    router = Router([a, b], [group("a", "b")])
    router.deployments["b"].outstanding = 1
    tools = (ToolSpec("f", "", {"type": "object", "properties": {}}),)
    with pytest.raises(UpstreamError):
        await collect(router.generate(Request(model="chat", tools=tools, messages=(
            ChatMessage("user", "hi"),))))
    assert not b.calls


class Checked(Scripted):
    up: bool = True
    checks: int = 0

    async def health(self) -> bool:
        self.checks += 1
        if self.checks > 50:
            raise RuntimeError("no answer")
        return self.up


async def test_health_checks_take_a_dead_upstream_out_and_put_it_back() -> None:
    a, b = Checked(("a",), "a"), Scripted(("b",), "b")
    router = Router([a, b], [group("a", "b")], health_intervals={id(a): 0.001})
    task = asyncio.create_task(router.run_health_checks())
    try:
        async def until(state: str) -> None:
            for _ in range(1000):
                if router.deployments["a"].breaker.state == state:
                    return
                await asyncio.sleep(0.001)
            raise AssertionError(f"breaker never {state}")

        a.up = False
        await until("open")
        assert router.deployments["a"].healthy is False
        assert (await collect(router.generate(ask("chat")))).text == "b"  # a skipped
        a.up = True
        await until("closed")
        a.checks = 100  # a check that raises counts as failed
        await until("open")
    finally:
        task.cancel()
