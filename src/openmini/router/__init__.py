"""Which backend answers a request: exposed model ids -> deployments, groups, fallback."""

from openmini.router.router import Router

__all__ = ["Router"]
