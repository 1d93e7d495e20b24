"""`[[providers]]` and `[[groups]]` from the TOML config file (docs/routing.md).

    [[providers]]
    name = "cluster"                 # unique
    kind = "openai"                  # "openai" or "anthropic"
    base_url = "http://gpu-box:8000/v1"
    api_key_env = "CLUSTER_KEY"      # optional: the key is read from this variable
    models = { "qwen-7b" = "Qwen/Qwen2.5-7B-Instruct" }   # exposed id -> upstream id
    timeout_s = 60

    [[groups]]
    name = "chat"                    # an id clients can ask for
    members = ["fast", "qwen-7b"]    # exposed ids, load-balanced
    fallbacks = ["default"]          # tried in order when every member failed

Beyond those contract keys a provider may declare what its models can do (`tools`,
`json_schema`, `vision`, `reasoning`, `logprobs`, `max_n`, `context_length`) and its health
check (`health_interval_s`); a group its reliability (`retries`, `backoff_s`,
`breaker_failures`, `breaker_cooldown_s`). An unknown key is an error naming it.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from typing import Any

KINDS = ("openai", "anthropic")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str
    models: dict[str, str]
    api_key_env: str | None = None
    timeout_s: float = 60.0
    # what the upstream's models can do (Capabilities); None: the backend's default
    tools: bool = True
    json_schema: bool = False  # the upstream enforces response_format json_schema itself
    vision: bool = False  # its models see images (they are passed on)
    reasoning: bool = False  # it takes a thinking budget / reasoning effort
    logprobs: bool = True
    prefill: bool = False  # continues a partial assistant message (stream recovery onto it)
    max_n: int = 1
    context_length: int = 32768
    health_interval_s: float = 10.0  # 0: no periodic health check

    def api_key(self) -> str | None:
        """The key, read from `api_key_env` (never stored in the config, never logged)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    members: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()
    retries: int = 2  # per request, on retryable failures, across the group's deployments
    backoff_s: float = 0.05  # first retry's delay; doubled each time, with full jitter
    breaker_failures: int = 3  # consecutive failures that open a deployment's breaker
    breaker_cooldown_s: float = 5.0  # open -> half-open (one probe request) after this


def _build(cls: Any, table: object, where: str) -> Any:
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys: {', '.join(unknown)}")
    missing = sorted(f.name for f in fields(cls) if f.name not in table
                     and f.default is MISSING and f.default_factory is MISSING)
    if missing:
        raise ValueError(f"{where}: missing keys: {', '.join(missing)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def providers_from(raw: object) -> tuple[ProviderConfig, ...]:
    """`[[providers]]` tables, checked: unique names, a known kind, models a string table."""
    out: list[ProviderConfig] = []
    for i, table in enumerate(_tables(raw, "providers")):
        where = f"providers[{i}]"
        p = table if isinstance(table, ProviderConfig) else _build(ProviderConfig, table, where)
        if p.kind not in KINDS:
            raise ValueError(f"{where}.kind must be one of {', '.join(KINDS)}, not {p.kind!r}")
        if not isinstance(p.models, dict) or not p.models or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in p.models.items()):
            raise ValueError(f"{where}.models must be a table of exposed id = upstream id")
        if not p.base_url.startswith(("http://", "https://")):
            raise ValueError(f"{where}.base_url must be an http(s) URL, not {p.base_url!r}")
        if any(p.name == q.name for q in out):
            raise ValueError(f"{where}.name {p.name!r} is used twice")
        out.append(p)
    return tuple(out)


def groups_from(raw: object) -> tuple[GroupConfig, ...]:
    out: list[GroupConfig] = []
    for i, table in enumerate(_tables(raw, "groups")):
        where = f"groups[{i}]"
        g = table if isinstance(table, GroupConfig) else _build(GroupConfig, table, where)
        if not g.members or not all(isinstance(m, str) for m in (*g.members, *g.fallbacks)):
            raise ValueError(f"{where}.members must be a non-empty list of model ids")
        if any(g.name == h.name for h in out):
            raise ValueError(f"{where}.name {g.name!r} is used twice")
        out.append(g)
    return tuple(out)


def _tables(raw: object, key: str) -> list[object]:
    if not isinstance(raw, list | tuple):
        raise ValueError(f"{key} must be an array of tables ([[{key}]])")
    return list(raw)
