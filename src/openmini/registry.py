"""Registry[T]: how every pluggable family is registered. Built-ins register as plugins do."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories, imported lazily so `import openmini` stays light."""

    def __init__(self, family: str):
        self.family = family
        self._factories: dict[str, Callable[..., T] | str] = {}

    def register(self, name: str, factory: Callable[..., T] | str) -> None:
        """Register a factory, or a "module:attr" string resolved on first use."""
        if name in self._factories:
            raise ValueError(f"{self.family} '{name}' is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def get(self, name: str) -> Callable[..., T]:
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"unknown {self.family} '{name}' (known: {known})") from None
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(import_module(module), attr)
            self._factories[name] = factory
        return factory

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        return self.get(name)(*args, **kwargs)
