"""Backends: where tokens come from. `local` is the embedded llama.cpp engine."""

from openmini.backends.base import Backend, Capabilities
from openmini.registry import Registry

BACKENDS: Registry[Backend] = Registry("backend")
BACKENDS.register("local", "openmini.backends.local:LocalBackend")

__all__ = ["BACKENDS", "Backend", "Capabilities"]
