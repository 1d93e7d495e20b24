"""What a config serves, without loading a model: every exposed id with its backend and
health (`openmini models --config FILE`). Local models are healthy when assembled (or a
.gguf file that exists); upstream providers are asked for their model list now (a 200 in
2 s: up)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from openmini.config import ServerConfig
from openmini.router.config import ProviderConfig

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Exposed:
    id: str
    backend: str  # "local", "openai:<provider>", "anthropic:<provider>", "group", "auto"
    target: str  # the file or alias; the upstream's id; a group's members; auto's targets
    health: str  # "up", "down: <why>", "present", "not assembled", "-"


def inventory(config: ServerConfig, cache_dir: Path | None = None) -> list[Exposed]:
    rows = [_local(m, cache_dir) for m in (config.engine.model, *config.models)]
    rows += asyncio.run(_providers(config.providers))
    for g in config.groups:
        members = ", ".join(g.members) + (f" (fallbacks: {', '.join(g.fallbacks)})"
                                          if g.fallbacks else "")
        rows.append(Exposed(g.name, "group", members, "-"))
    ids = {r.id for r in rows}
    if config.auto or {"fast", "default"} <= ids:
        easy, hard = config.auto.get("easy", "fast"), config.auto.get("hard", "default")
        rows.append(Exposed("auto", "auto", f"easy: {easy}, hard: {hard}", "-"))
    return rows


def _local(model: str, cache_dir: Path | None) -> Exposed:
    from openmini.models import CATALOGUE, default_cache_dir, is_present

    spec = CATALOGUE.get(model)
    if spec is None:
        path = Path(model).expanduser()
        return Exposed(path.stem, "local", str(path),
                       "present" if path.is_file() else "down: no such file")
    present = is_present(spec, cache_dir or default_cache_dir())
    return Exposed(model, "local", spec.description, "present" if present else "not assembled")


async def _providers(providers: tuple[ProviderConfig, ...]) -> list[Exposed]:
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        healths = await asyncio.gather(*(_probe(client, p) for p in providers))
    return [Exposed(exposed, f"{p.kind}:{p.name}", upstream, health)
            for p, health in zip(providers, healths, strict=True)
            for exposed, upstream in p.models.items()]


async def _probe(client: httpx.AsyncClient, p: ProviderConfig) -> str:
    key = p.api_key()
    if p.kind == "anthropic":
        url = p.base_url.rstrip("/") + "/v1/models"
        headers = {"anthropic-version": "2023-06-01", **({"x-api-key": key} if key else {})}
    else:
        url = p.base_url.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"down: {type(exc).__name__}"
    return "up" if response.status_code == 200 else f"down: HTTP {response.status_code}"
