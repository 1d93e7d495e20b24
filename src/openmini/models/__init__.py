"""Model catalogue: aliases → GGUF files from pinned PyPI packages, sha256-checked."""

from openmini.models.assemble import (
    default_cache_dir,
    is_present,
    resolve_model,
    resolve_projector,
)
from openmini.models.catalogue import CATALOGUE, ModelSpec

__all__ = ["CATALOGUE", "ModelSpec", "default_cache_dir", "is_present", "resolve_model",
           "resolve_projector"]
