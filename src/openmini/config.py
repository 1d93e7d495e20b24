"""Frozen configuration. Precedence: defaults < TOML file < OPENMINI_* env < CLI flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from openmini.router.config import GroupConfig, ProviderConfig, groups_from, providers_from

FLASH_ATTN = {"auto": -1, "off": 0, "on": 1}  # llama_flash_attn_type


@dataclass(frozen=True, slots=True)
class EngineConfig:
    model: str = "default"  # alias from the catalogue, or a path to a .gguf file
    threads: int = 0  # 0 = every CPU this process may run on
    parallel: int = 4  # concurrent sequences decoded together
    # Context length per sequence (prompt + completion). Agent conversations grow with every
    # tool result (BFCL multi-turn: 113 of 200 first prompts exceed 4096). 8192 costs 1.1 GB
    # (fast) / 2.3 GB (default) RSS with the cache below; 16384 1.6 / 3.4 GB (docs/engine.md).
    ctx_size: int = 8192
    batch_size: int = 512  # tokens per decode step (prompt chunks + running sequences)
    # KV cells kept for cached prefixes beyond running ones. More reuse, but every cached cell
    # also widens the KV range each decode step scans (unified KV cache): see docs/engine.md.
    # As large as one whole context: a conversation's prefix longer than the cache is never
    # kept, and each agent round (and the tool probes before it) recomputes it.
    prefix_cache_tokens: int = 8192
    max_queue: int = 64  # requests waiting for a sequence; past it, 429
    # Streamed text is handed to the event loop at most this often per request (the first
    # token at once). Fewer wake-ups leave the cores to the compute threads.
    stream_interval_ms: int = 80
    # llama.cpp flash attention: "auto" (llama.cpp decides; on for CPU), "on" or "off".
    flash_attn: str = "auto"
    # tool_choice auto: answer in text when the first token's share of prose reaches this
    # (0 < t <= 1; 1: the first token's argmax decides). None: the model catalogue's value.
    tool_text_threshold: float | None = None
    # ...the same decision after tool results, on the prose share plus the share of calls
    # that would repeat an answered one (backends/local_decision.py). None: the catalogue's.
    tool_results_threshold: float | None = None
    # tool_choice auto: how much the relevance probe's answer leans that decision (0: no
    # probe), and the probe's yes share that leaves it as it is. None: the catalogue's values.
    tool_fit_weight: float | None = None
    tool_fit_center: float | None = None
    # A vision projector (mmproj GGUF) for the model: images are then seen natively
    # (engine/vision.py) instead of described as text.
    mmproj: str | None = None
    # Sequence slots batch lines (background requests) never take: a live request finds one
    # free at once (docs/batch.md). At most parallel - 1 of them are kept.
    live_slots: int = 1
    # Batch lines' prompt tokens per decode step while live traffic is about (a live request
    # ran in the last few seconds): a live request then waits little for the step in flight.
    # Higher: batches go faster beside live traffic, live first tokens come later.
    batch_live_prefill: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.live_slots, int) or isinstance(self.live_slots, bool) \
                or self.live_slots < 0:
            raise ValueError(f"live_slots must be an integer >= 0, not {self.live_slots!r}")
        if not isinstance(self.batch_live_prefill, int) or self.batch_live_prefill < 1:
            raise ValueError("batch_live_prefill must be an integer >= 1, not "
                             f"{self.batch_live_prefill!r}")
        if self.flash_attn not in FLASH_ATTN:
            raise ValueError(f"flash_attn must be one of {', '.join(FLASH_ATTN)}, "
                             f"not {self.flash_attn!r}")
        for name in ("tool_text_threshold", "tool_results_threshold"):
            t = getattr(self, name)
            if t is not None and (not _is_number(t) or not 0 < t <= 1):
                raise ValueError(f"{name} must be a number in (0, 1], not {t!r}")
        w, c = self.tool_fit_weight, self.tool_fit_center
        if w is not None and (not _is_number(w) or w < 0):
            raise ValueError(f"tool_fit_weight must be a number >= 0, not {w!r}")
        if c is not None and (not _is_number(c) or not 0 < c < 1):
            raise ValueError(f"tool_fit_center must be a number in (0, 1), not {c!r}")

    def resolved_threads(self) -> int:
        return self.threads or max(1, len(os.sched_getaffinity(0)))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    model_cache_dir: str | None = None  # where assembled models are kept
    tool_call_retries: int = 1  # an invalid tool call is retried this often (non-streaming)
    # Images (vision/): http(s) image URLs at all; hosts they may come from (none: any public
    # host; ".example.com" takes subdomains); hosts let through although private (an
    # intranet image store); directories file:// may read under (none: nowhere). Lists are
    # comma-separated in variables and flags, arrays or strings in the TOML file.
    no_image_urls: bool = False
    image_domains: tuple[str, ...] = ()
    image_allow_hosts: tuple[str, ...] = ()
    image_roots: tuple[str, ...] = ()
    max_image_bytes: int = 20 * 1024 * 1024  # one image, encoded
    max_images: int = 32  # per request
    max_image_pixels: int = 40_000_000  # per image, read from its header before decoding
    max_body_bytes: int = 64 * 1024 * 1024  # a request body; beyond it, 413
    # More local models served beside `engine.model` (each its own engine, same settings),
    # upstream providers and model groups (router/config.py, docs/routing.md).
    models: tuple[str, ...] = ()
    providers: tuple[ProviderConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()
    auto: dict[str, Any] = field(default_factory=dict)  # [auto]: model "auto"'s policy
    # Files and batches (batch/, docs/batch.md): where they are kept (None: the user data
    # directory), an upload's and a batch input's limits, how long a batch's output and
    # error files are kept (days; 0: until deleted), and batch lines in flight at once
    # (0: twice the engine's parallel sequences).
    data_dir: str | None = None
    batch_max_lines: int = 50_000
    batch_max_bytes: int = 200 * 1024 * 1024
    file_ttl_days: int = 30
    batch_concurrency: int = 0
    # POST /v1/embeddings with the catalogue's embedding model (all-minilm-l6-v2), loaded at
    # start beside the chat models (docs/embeddings.md); false: no embedding model.
    embeddings: bool = True
    # Codebase indexes (index/, docs/index.md): files larger than this are not indexed;
    # directories an API client may index (POST /v1/indexes) under (none: nowhere).
    index_max_file_bytes: int = 1_000_000
    index_roots: tuple[str, ...] = ()
    engine: EngineConfig = field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        models: object = self.models
        items = models.split(",") if isinstance(models, str) else models
        if not isinstance(items, list | tuple) or not all(isinstance(m, str) for m in items):
            raise ValueError(f"models must be a list of model ids, not {models!r}")
        object.__setattr__(self, "models", tuple(m.strip() for m in items if m.strip()))
        object.__setattr__(self, "providers", providers_from(self.providers))
        object.__setattr__(self, "groups", groups_from(self.groups))
        if not isinstance(self.auto, dict):
            raise ValueError(f"auto must be a table ([auto]), not {self.auto!r}")
        for name in ("image_domains", "image_allow_hosts", "image_roots", "index_roots"):
            value: object = getattr(self, name)
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError(f"{name} must be a list of strings, not {value!r}")
            object.__setattr__(self, name, tuple(i.strip() for i in items if i.strip()))
        for name in ("file_ttl_days", "batch_concurrency"):
            number = getattr(self, name)
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValueError(f"{name} must be an integer >= 0, not {number!r}")
        for name in ("max_image_bytes", "max_images", "max_image_pixels", "max_body_bytes",
                     "batch_max_lines", "batch_max_bytes", "index_max_file_bytes"):
            number = getattr(self, name)
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                raise ValueError(f"{name} must be a positive integer, not {number!r}")

    def data_path(self) -> Path:
        """The data directory: files, batches, codebase indexes (what is kept between runs)."""
        import platformdirs
        return Path(self.data_dir or platformdirs.user_data_dir("openmini")).expanduser()

    def model_cache_path(self) -> Path | None:
        """Where assembled models are kept, when configured (None: the models' default)."""
        return Path(self.model_cache_dir) if self.model_cache_dir else None


_ENGINE_KEYS = {f.name for f in fields(EngineConfig)}
_SERVER_KEYS = {f.name for f in fields(ServerConfig)} - {"engine"}


# Each key's type, as its field declares it ("float | None", "int", "bool", "str | None").
_TYPES = {f.name: str(f.type) for cls in (EngineConfig, ServerConfig) for f in fields(cls)}
_PARSERS: dict[str, Any] = {
    "bool": lambda v: v.lower() in {"1", "true", "yes", "on"}, "int": int, "float": float}


def _coerce(key: str, value: str) -> Any:
    """An OPENMINI_* value as its field's type (a ValueError naming the variable if not)."""
    kind = next((k for k in _PARSERS if k in _TYPES[key].split(" | ")), "str")
    if kind == "str":
        return value
    try:
        return _PARSERS[kind](value)
    except ValueError:
        raise ValueError(f"OPENMINI_{key.upper()}={value!r} is not a valid {kind}") from None


def load_config(
    path: str | Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> ServerConfig:
    """Build a config from defaults, an optional TOML file, OPENMINI_* variables, then overrides.

    `overrides` holds CLI flags; a value of None means "not given" and is skipped.
    """
    values: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        values.update({k: v for k, v in data.items() if k != "engine"})
        values.update(data.get("engine", {}))
    environ = os.environ if env is None else env
    base_server, base_engine = ServerConfig(), EngineConfig()
    for key in _ENGINE_KEYS | _SERVER_KEYS:
        raw = environ.get(f"OPENMINI_{key.upper()}")
        if raw is not None:
            values[key] = _coerce(key, raw)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - _ENGINE_KEYS - _SERVER_KEYS
    if unknown:
        raise ValueError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    engine = replace(base_engine, **{k: v for k, v in values.items() if k in _ENGINE_KEYS})
    server = {k: v for k, v in values.items() if k in _SERVER_KEYS}
    return replace(base_server, engine=engine, **server)
