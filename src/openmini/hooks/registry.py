"""Hooks by name: the built-ins and those plugins declare under the `openmini.hooks` entry
point group (`[project.entry-points."openmini.hooks"] name = "module:factory"`). A factory
takes the request's `args` as keyword arguments and returns a hook for that one request."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from importlib.metadata import entry_points
from typing import Any

from openmini.errors import InvalidRequest
from openmini.hooks.base import TokenHook
from openmini.registry import Registry

GROUP = "openmini.hooks"

HOOKS: Registry[TokenHook] = Registry("hook")
HOOKS.register("stop_regex", "openmini.hooks.builtin:StopRegex")
HOOKS.register("max_sentences", "openmini.hooks.builtin:MaxSentences")
HOOKS.register("max_time", "openmini.hooks.builtin:MaxTime")

_loaded: set[int] = set()  # ids of the registries whose entry points were read


def load_plugins(registry: Registry[TokenHook] = HOOKS) -> list[str]:
    """Register every `openmini.hooks` entry point not registered yet; returns their names."""
    added = []
    for ep in entry_points(group=GROUP):
        if ep.name not in registry:
            registry.register(ep.name, ep.value)
            added.append(ep.name)
    return added


def hooks_from_specs(specs: Sequence[Any], registry: Registry[TokenHook] = HOOKS,
                     param: str = "hooks") -> tuple[TokenHook, ...]:
    """`["name", {"name": ..., "args": {...}}, ...]` -> one fresh hook per entry."""
    if id(registry) not in _loaded:
        load_plugins(registry)
        _loaded.add(id(registry))
    out = []
    for i, spec in enumerate(specs):
        where = f"{param}[{i}]"
        name, args = (spec, {}) if isinstance(spec, str) else _name_args(spec, where)
        if name not in registry:
            raise InvalidRequest(f"Unknown hook '{name}' in '{where}' (known: "
                                 f"{', '.join(registry.names())}).", param=where)
        try:
            hook = registry.create(name, **args)
        except InvalidRequest as exc:
            raise InvalidRequest(f"'{where}': {exc.message}", param=f"{where}.args") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"Invalid arguments for hook '{name}' in '{where}': {exc}",
                                 param=f"{where}.args") from exc
        if not getattr(hook, "name", None):  # errors name it as the request did
            with suppress(AttributeError, TypeError):
                hook.name = name  # type: ignore[attr-defined]
        out.append(hook)
    return tuple(out)


def _name_args(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or (
            set(spec) - {"name", "args"}) or not isinstance(spec.get("args", {}), dict):
        raise InvalidRequest(f"'{where}' must be a hook name or an object "
                             '{"name": ..., "args": {...}}.', param=where)
    return spec["name"], spec.get("args", {})
