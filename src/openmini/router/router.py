"""The Router: every exposed model id -> the deployment that serves it, and model groups.

Each backend (a local model, an upstream provider) lists the ids it serves
(`Backend.model_ids()`); each id is a deployment. A group (`[[groups]]`, router/config.py)
is an id too: its members are load-balanced (least outstanding requests, then latency), a
retryable failure before the first event moves the request to the next deployment (retries
with exponential backoff and full jitter, honouring Retry-After on the same deployment),
then through the group's fallbacks in order; a deployment whose breaker is open is skipped.
Nothing is retried once an event has reached the caller, with one exception: a plain text
stream that breaks off is continued by the next deployment that can (router/recovery.py).
`request.route` says where the request went (the edge turns it into the `model` field and
x-openmini-route).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from openmini.backends.base import Backend, BackendStats, Capabilities
from openmini.errors import (
    ContextLengthExceeded,
    ModelNotFound,
    OpenMiniError,
    UnsupportedParameter,
    UpstreamError,
)
from openmini.router.auto import AutoPolicy, Features, RulePolicy
from openmini.router.config import GroupConfig
from openmini.router.deployment import Breaker, Deployment
from openmini.router.recovery import Progress, continuation, recoverable, summed
from openmini.types import Done, Event, Failed, Request

MAX_BACKOFF_S = 2.0
# what a deployment raises when it cannot serve the request (a parameter it does not honour,
# a prompt past its context): the group tries its other deployments, none counts it failed
CANNOT = (UnsupportedParameter, ContextLengthExceeded)
MAX_RETRY_AFTER_S = 30.0


AUTO = "auto"


class Router:
    def __init__(self, backends: Sequence[Backend], groups: Sequence[GroupConfig] = (),
                 auto: AutoPolicy | None = None,
                 health_intervals: dict[int, float] | None = None):
        """`health_intervals`: id(backend) -> seconds between its health checks (backends
        with an `async def health() -> bool`: upstream providers)."""
        self.backends = list(backends)
        self.health_intervals = health_intervals or {}
        self.deployments: dict[str, Deployment] = {}
        for backend in self.backends:
            for model_id in backend.model_ids():
                if model_id in self.deployments:
                    raise ValueError(f"model id {model_id!r} is served twice")
                self.deployments[model_id] = Deployment(model_id, backend)
        self.groups: dict[str, GroupConfig] = {}
        for group in groups:
            self._add_group(group)
        if auto is None and {"fast", "default"} <= set(self.deployments):
            auto = RulePolicy()  # both shipped models loaded: easy -> fast, hard -> default
        self.auto = auto
        if auto is not None and AUTO in self.deployments:
            raise ValueError(f"{AUTO!r} is a model id here: it cannot also be the policy")

    def _add_group(self, group: GroupConfig) -> None:
        if group.name in self.deployments or group.name in self.groups:
            raise ValueError(f"group {group.name!r} has the id of a model already served")
        unknown = [m for m in (*group.members, *group.fallbacks) if m not in self.deployments]
        if unknown:
            raise ValueError(f"group {group.name!r}: no model {', '.join(map(repr, unknown))}")
        for member in group.members:  # the group's breaker settings govern its members
            self.deployments[member].breaker = Breaker(group.breaker_failures,
                                                       group.breaker_cooldown_s)
        self.groups[group.name] = group

    def model_ids(self) -> list[str]:
        return [*self.deployments, *self.groups, *([AUTO] if self.auto else [])]

    def _targets(self) -> list[str]:
        """The ids `auto` may pick: the policy's own, when it names them, else every one."""
        named = [getattr(self.auto, k, None) for k in ("easy", "hard")]
        ids = [i for i in named if isinstance(i, str)]
        return ids or [*self.deployments, *self.groups]

    def deployment(self, model: str) -> Deployment:
        try:
            return self.deployments[model]
        except KeyError:
            raise ModelNotFound(model) from None

    def capabilities(self, model: str) -> Capabilities:
        """A deployment's; a group's: what any member or fallback can do for reasoning,
        hooks and logprobs (the router then sends such a request to one that can: a
        deployment that cannot refuses it by name and the next is tried), and what every
        one of them can do for the rest (n, context, images, continuing a message)."""
        if model == AUTO and self.auto is not None:
            return _common([self.capabilities(t) for t in self._targets()])
        group = self.groups.get(model)
        if group is None:
            return self.deployment(model).backend.capabilities
        return _common([self.deployments[m].backend.capabilities
                        for m in (*group.members, *group.fallbacks)])

    async def count_tokens(self, request: Request) -> int:
        """The prompt tokens `request` would take (a group: on its first member)."""
        if request.model == AUTO and self.auto is not None:
            request = _to(request, self._choose(request)[0])
        group = self.groups.get(request.model)
        target = self.deployment(group.members[0] if group else request.model)
        return await target.backend.count_tokens(_to(request, target.id))

    def generate(self, request: Request) -> AsyncIterator[Event]:
        reason = "primary"
        if request.model == AUTO and self.auto is not None:
            model, rule = self._choose(request)
            request, reason = _to(request, model), f"auto:{rule}"
        group = self.groups.get(request.model)
        if group is None:
            target = self.deployment(request.model)
            request.route.deployment, request.route.group = target.id, None
            request.route.reason = reason
            return self._attempt_stream(target, request)
        return self._group_stream(group, request, reason)

    def _choose(self, request: Request) -> tuple[str, str]:
        assert self.auto is not None
        model, rule = self.auto.choose(Features.of(request), self._targets())
        if model not in self.deployments and model not in self.groups:
            raise UpstreamError(f"the auto policy chose {model!r}, which is not served",
                                kind="server", status=500)
        return model, rule

    async def _group_stream(self, group: GroupConfig, request: Request, primary: str
                            ) -> AsyncIterator[Event]:
        last: OpenMiniError | None = None
        previous: Deployment | None = None
        before: Progress | None = None  # set once a stream broke off: recovering it
        for k, (target, reason) in enumerate(self._plan(group, primary)):
            if before is not None and not target.backend.capabilities.prefill:
                continue
            if k:
                await asyncio.sleep(_delay(group.backoff_s, k, last, target is previous))
            route = request.route
            route.deployment, route.group = target.id, group.name
            route.reason = "recovered" if before is not None else reason
            attempt = continuation(request, before) if before is not None else request
            progress = Progress()
            stream = self._attempt_stream(target, _to(attempt, target.id))
            try:
                async for event in stream:
                    if isinstance(event, Failed):
                        raise event.error
                    progress.see(event)
                    yield summed(event, before) if before is not None else event
                return
            except OpenMiniError as exc:
                started = bool(progress.text) or not progress.only_text
                if isinstance(exc, CANNOT) and not started:  # not this one: a capable one
                    last = exc
                    continue
                if not exc.retryable:
                    raise
                if started:  # it broke off mid-stream
                    if before is not None:
                        progress.text = before.text + progress.text
                        progress.tokens += before.tokens
                    if not recoverable(request, progress):
                        raise
                    before = progress
                last, previous = exc, target
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
        raise last or UpstreamError(f"every deployment of group {group.name!r} is out of "
                                    "rotation (circuit breakers open)", kind="server",
                                    status=503)

    def _plan(self, group: GroupConfig, primary: str) -> list[tuple[Deployment, str]]:
        """Members by load (skipping open breakers), again until `retries` extra attempts,
        then the fallbacks in order."""
        members = sorted((self.deployments[m] for m in group.members
                          if self.deployments[m].breaker.allows()), key=Deployment.load_key)
        plan: list[tuple[Deployment, str]] = []
        for i in range(1 + group.retries if members else 0):
            plan.append((members[i % len(members)], primary if i == 0 else "retry"))
        plan += [(self.deployments[f], "fallback") for f in group.fallbacks
                 if self.deployments[f].breaker.allows()]
        return plan

    async def _attempt_stream(self, target: Deployment, request: Request
                              ) -> AsyncIterator[Event]:
        """One deployment's stream, with its book-keeping: in flight, latency, breaker,
        errors by kind, tokens."""
        target.outstanding += 1
        target.requests += 1
        target.breaker.begin()
        started, first = time.monotonic(), True
        stream = target.backend.generate(request)
        try:
            async for event in stream:
                if first:
                    first = False
                    target.observe_latency(time.monotonic() - started)
                if isinstance(event, Failed):
                    _failed(target, event.error)
                elif isinstance(event, Done):
                    target.breaker.success()
                    target.prompt_tokens += event.usage.prompt_tokens
                    target.completion_tokens += event.usage.completion_tokens
                yield event
        except OpenMiniError as exc:
            _failed(target, exc)
            raise
        finally:
            target.outstanding -= 1
            target.breaker.probing = False
            await stream.aclose()  # type: ignore[attr-defined]

    async def run_health_checks(self) -> None:
        """Until cancelled: every backend with a health check and an interval is checked
        that often. A failed check takes its deployments out of rotation (breaker tripped);
        a passing one puts back what a failed check took out."""
        watched = [b for b in self.backends if self.health_intervals.get(id(b), 0) > 0
                   and callable(getattr(b, "health", None))]
        await asyncio.gather(*(self._watch(b, self.health_intervals[id(b)]) for b in watched))

    async def _watch(self, backend: Backend, interval: float) -> None:
        while True:
            try:
                ok = bool(await backend.health())  # type: ignore[attr-defined]
            except Exception:  # an unanswerable check is a failed one
                ok = False
            for model_id in backend.model_ids():
                dep = self.deployments[model_id]
                if not ok:
                    dep.breaker.trip()
                elif dep.healthy is False:
                    dep.breaker.success()
                dep.healthy = ok
            await asyncio.sleep(interval)

    def stats(self) -> BackendStats:
        """The sum over the backends, for /metrics and /health."""
        parts = [b.stats() for b in self.backends]
        return BackendStats(*(sum(getattr(p, f) for p in parts) for f in BackendStats.__slots__))

    async def close(self) -> None:
        await asyncio.gather(*(b.close() for b in self.backends))


def _to(request: Request, model: str) -> Request:
    return request if request.model == model else replace(request, model=model)


def _failed(target: Deployment, error: Exception) -> None:
    kind = getattr(error, "kind", None) or type(error).__name__
    target.errors[kind] += 1
    if getattr(error, "retryable", False):
        target.breaker.failure()
        if getattr(error, "kind", None) == "connect":
            target.breaker.trip()  # nobody listens there: out of rotation at once


def _delay(base: float, attempt: int, last: OpenMiniError | None, same: bool) -> float:
    """Full jitter over an exponential backoff; a Retry-After is honoured when the next
    attempt goes to the deployment that sent it (another one need not wait for it)."""
    delay = random.uniform(0, min(MAX_BACKOFF_S, base * 2 ** (attempt - 1)))
    retry_after = getattr(last, "retry_after", None)
    if same and retry_after:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER_S))
    return delay


def _common(caps: list[Capabilities]) -> Capabilities:
    """What several backends can do: see Router.capabilities."""
    first = caps[0]
    vision = first.vision if all(c.vision == first.vision for c in caps) else (
        "perception" if all(c.vision for c in caps) else None)
    return Capabilities(
        chat=all(c.chat for c in caps), completions=all(c.completions for c in caps),
        logprobs=any(c.logprobs for c in caps), max_n=min(c.max_n for c in caps),
        context_length=min(c.context_length for c in caps),
        reasoning=any(c.reasoning for c in caps), token_hooks=any(c.token_hooks for c in caps),
        vision=vision, prefill=all(c.prefill for c in caps), fim=all(c.fim for c in caps),
        repo_context=all(c.repo_context for c in caps))
