"""One deployment: an exposed model id on its backend, with what the router keeps about it
(requests in flight, latency, failures by kind, tokens) and its circuit breaker."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from openmini.backends.base import Backend

EWMA = 0.2  # weight of the newest time-to-first-event in the latency estimate


@dataclass(slots=True)
class Breaker:
    """Closed until `failures` retryable failures in a row; then open (skipped) for
    `cooldown_s`; then half-open: one request may probe it, whose success closes it and
    whose failure opens it again."""

    failures: int = 3
    cooldown_s: float = 5.0
    consecutive: int = 0
    opened_at: float | None = None
    probing: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self.opened_at >= self.cooldown_s else "open"

    def allows(self) -> bool:
        state = self.state
        return state == "closed" or (state == "half_open" and not self.probing)

    def begin(self) -> None:
        if self.state == "half_open":
            self.probing = True

    def success(self) -> None:
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.consecutive += 1
        self.probing = False
        if self.opened_at is not None or self.consecutive >= self.failures:
            self.opened_at = time.monotonic()

    def trip(self) -> None:
        """Out of rotation at once (a failed health check, a connection refused)."""
        self.consecutive = max(self.consecutive, self.failures)
        self.opened_at, self.probing = time.monotonic(), False


@dataclass(slots=True)
class Deployment:
    id: str  # the exposed model id
    backend: Backend
    breaker: Breaker = field(default_factory=Breaker)
    outstanding: int = 0
    latency_s: float = 0.0  # EWMA of the time to the first event
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # by kind
    prompt_tokens: int = 0
    completion_tokens: int = 0
    healthy: bool | None = None  # the last health check's answer; None: not checked

    def load_key(self) -> tuple[int, float]:
        """Least outstanding requests first, then the lower latency."""
        return (self.outstanding, self.latency_s)

    def observe_latency(self, seconds: float) -> None:
        self.latency_s = seconds if self.requests <= 1 else (
            (1 - EWMA) * self.latency_s + EWMA * seconds)
