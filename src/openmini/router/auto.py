"""`model: "auto"`: a policy picks the deployment (or group) per request.

A policy sees what the request needs and how hard it looks (`Features`) and returns the id
to send it to and the rule that decided (reported as `reason=auto:<rule>` in
x-openmini-route). The shipped policy (`RulePolicy`) sends easy requests to `easy` (`fast`)
and hard ones to `hard` (`default`), rules first match wins:

    latency   a latency budget (x-openmini-max-latency-ms) under `fast_latency_ms` -> easy
    short     a short answer (max_tokens <= `hard_short_tokens`), no tools/schema -> hard
    reasoning reasoning effort medium or high, or a thinking budget over 512       -> hard
    tools     `hard_tools` tools or more                                           -> hard
    schema    a constraint (schema, grammar) of `hard_schema_chars` or more        -> hard
    long      a conversation of `hard_prompt_chars` characters or more             -> hard
    turns     `hard_turns` messages or more (an agent loop)                        -> hard
    easy      anything else                                                        -> easy

Write another one as a class with `choose(features, ids) -> (id, rule)` and name it in the
config: `[auto] policy = "package.module:ClassName"` (constructed with the `[auto]` table's
other keys). docs/routing.md says more.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol

from openmini.types import Request


@dataclass(frozen=True, slots=True)
class Features:
    """What a request needs and how hard it looks, for a policy."""

    images: int
    tools: int
    schema_chars: int  # the constraint's spec (JSON schema, regex, grammar), 0 if none
    effort: str | None  # reasoning effort, None when not reasoning
    thinking_budget: int
    prompt_chars: int
    messages: int
    max_latency_ms: float | None  # the client's latency budget, if it set one
    max_tokens: int | None  # the answer's limit, if the client set one

    @staticmethod
    def of(request: Request) -> Features:
        messages = request.messages or ()
        chars = sum(len(m.content) for m in messages) + len(request.prompt or "")
        reasoning = request.reasoning
        return Features(
            images=sum(len(m.images) for m in messages), tools=len(request.tools),
            schema_chars=len(request.constraint.spec) if request.constraint else 0,
            effort=reasoning.effort if reasoning else None,
            thinking_budget=reasoning.budget if reasoning else 0,
            prompt_chars=chars, messages=len(messages), max_latency_ms=request.max_latency_ms,
            max_tokens=request.sampling.max_tokens)


class AutoPolicy(Protocol):
    def choose(self, features: Features, ids: list[str]) -> tuple[str, str]:
        """The id (a deployment or group among `ids`) and the rule's name."""
        ...


@dataclass(frozen=True, slots=True)
class RulePolicy:
    easy: str = "fast"
    hard: str = "default"
    fast_latency_ms: float = 2000.0
    # A short answer costs little more on the bigger model (48 tokens: 0.63 s on `default`
    # against 0.34 s on `fast`) and is where it is most often right (easy chat: 95% vs 70%,
    # bench/auto_route.py): quality is cheap there.
    hard_short_tokens: int = 64
    hard_tools: int = 4
    hard_schema_chars: int = 1500
    hard_prompt_chars: int = 6000
    hard_turns: int = 8

    def choose(self, features: Features, ids: list[str]) -> tuple[str, str]:
        f = features
        rules: list[tuple[str, bool]] = [
            ("latency", f.max_latency_ms is not None and f.max_latency_ms < self.fast_latency_ms),
            ("short", f.max_tokens is not None and f.max_tokens <= self.hard_short_tokens
             and not f.tools and not f.schema_chars),
            ("reasoning", f.effort in ("medium", "high") or f.thinking_budget > 512),
            ("tools", f.tools >= self.hard_tools),
            ("schema", f.schema_chars >= self.hard_schema_chars),
            ("long", f.prompt_chars >= self.hard_prompt_chars),
            ("turns", f.messages >= self.hard_turns),
        ]
        for name, hit in rules:
            if hit:
                return (self.easy if name == "latency" else self.hard), name
        return self.easy, "easy"


def load_policy(table: dict[str, Any]) -> AutoPolicy:
    """The `[auto]` config table: `policy` ("rules", the default, or "module:Class"), the
    other keys its constructor's."""
    options = {k: v for k, v in table.items() if k != "policy"}
    name = table.get("policy", "rules")
    if name == "rules":
        cls: Any = RulePolicy
    else:
        module, _, attr = str(name).partition(":")
        if not attr:
            raise ValueError(f"auto.policy must be 'rules' or 'module:Class', not {name!r}")
        cls = getattr(import_module(module), attr)
    try:
        policy: AutoPolicy = cls(**options)
    except TypeError as exc:
        raise ValueError(f"auto: {exc}") from None
    return policy
