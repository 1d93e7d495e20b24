"""The router a config describes: its local models (`engine.model`, then `models`), each
`[[providers]]` table through the provider kinds' registry, and the `[[groups]]`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from openmini.backends.base import Backend, Capabilities
from openmini.config import ServerConfig
from openmini.registry import Registry
from openmini.router.config import ProviderConfig
from openmini.router.router import Router

# kind -> factory(ProviderConfig) -> Backend; built-ins register exactly as plugins do
PROVIDER_KINDS: Registry[Backend] = Registry("provider kind")
PROVIDER_KINDS.register("openai", "openmini.router.build:openai_provider")
PROVIDER_KINDS.register("anthropic", "openmini.router.build:anthropic_provider")


def capabilities_of(p: ProviderConfig) -> Capabilities:
    """What a provider's models can do, as declared in its table. Hooks (stop_regex and
    the stop criteria on them) run on tokens in this process: never upstream."""
    return Capabilities(logprobs=p.logprobs, max_n=p.max_n, context_length=p.context_length,
                        reasoning=p.reasoning, token_hooks=False, prefill=p.prefill,
                        vision="native" if p.vision else "perception")


def openai_provider(p: ProviderConfig) -> Backend:
    from openmini.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(p.name, p.base_url, dict(p.models), api_key=p.api_key(),
                               timeout_s=p.timeout_s,  # `suffix` passed on: its own 400s
                               capabilities=replace(capabilities_of(p), fim=True),
                               enforces_json_schema=p.json_schema)


def anthropic_provider(p: ProviderConfig) -> Backend:
    from openmini.backends.anthropic import AnthropicBackend

    backend: Backend = AnthropicBackend(p.name, p.base_url, dict(p.models),
                                        api_key=p.api_key(), timeout_s=p.timeout_s,
                                        capabilities=capabilities_of(p))
    return backend


def local_backends(config: ServerConfig, cache_dir: Path | None,
                   progress: Callable[[int, int], None] | None) -> list[Backend]:
    """`engine.model` (with `engine.mmproj`), then each of `models` with the same engine
    settings (a projector only from its catalogue entry). Each is its own engine thread."""
    from openmini.backends.local import LocalBackend
    from openmini.models.catalogue import CATALOGUE

    backends: list[Backend] = []
    try:
        for i, model in enumerate((config.engine.model, *config.models)):
            spec = CATALOGUE.get(model)
            if spec is not None and spec.kind != "chat":
                raise ValueError(f"{model!r} is an embedding model: it is served on "
                                 "/v1/embeddings (embeddings = true), not as a chat model")
            engine = config.engine if i == 0 else replace(config.engine, model=model,
                                                          mmproj=None)
            backends.append(LocalBackend(engine, cache_dir=cache_dir, progress=progress))
    except BaseException:
        for backend in backends:
            _close_now(backend)
        raise
    return backends


def build_router(config: ServerConfig, cache_dir: Path | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Router:
    backends = local_backends(config, cache_dir, progress)
    intervals: dict[int, float] = {}
    try:
        for provider in config.providers:
            backend = PROVIDER_KINDS.get(provider.kind)(provider)
            backends.append(backend)
            intervals[id(backend)] = provider.health_interval_s
        from openmini.router.auto import load_policy

        auto = load_policy(config.auto) if config.auto else None
        return Router(backends, config.groups, auto, intervals)
    except BaseException:
        for backend in backends:
            _close_now(backend)
        raise


def _close_now(backend: Backend) -> None:
    import asyncio

    asyncio.run(backend.close())
