"""A Gemma 3 style projector (`gemma3`) with random weights, for the non-causal image path:
llama.cpp decodes a Gemma 3 image's rows with causal attention off
(`mtmd_decode_use_non_causal` is true for the projector type, whatever the text model), so
the rows of one image attend to each other both ways.

What clip.cpp reads (graph `clip_graph_siglip`, projector type "gemma3"): a SigLIP encoder
(`v.patch_embd.*` with bias, `v.position_embd.weight`, layers ln1/attn/ln2/ffn with GELU,
`v.post_ln`), then a 4x4 average pool (`clip.vision.projector.scale_factor`), an RMS norm
scaled by `mm.soft_emb_norm.weight` and `mm.input_projection.weight` (width -> n_embd, no
bias). A 224x224 image at patch 14 is 16x16 patches, pooled to 4x4 = 16 rows.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from .projector import Weights, write_clip

SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)


def make_gemma3_projector(path: Path, n_embd: int = 896, image_size: int = 224,
                          patch: int = 14, width: int = 64, layers: int = 2, pool: int = 4,
                          seed: int = 0) -> Path:
    """Write the projector to `path` (the same bytes for the same arguments)."""
    side = image_size // patch
    if image_size % patch or side % pool:
        raise ValueError("the patch grid must divide by the pool")
    r = Weights(seed)
    tensors = {
        "v.patch_embd.weight": r.conv(width, patch, 3 * patch * patch),
        "v.patch_embd.bias": r.vec(width),
        "v.position_embd.weight": (0.02 * r.rng.standard_normal((side * side, width))
                                   ).astype(np.float32),
        **r.layers(width, 4 * width, layers),
        "v.post_ln.weight": r.vec(width, base=1.0),
        "v.post_ln.bias": r.vec(width),
        "mm.soft_emb_norm.weight": r.vec(width, base=1.0),
        # (width, n_embd) in numpy order: clip.cpp multiplies by its transpose. Scaled so
        # the rows land near the size of the text model's token embeddings.
        "mm.input_projection.weight": r.linear(width, n_embd, scale=0.05),
    }
    return write_clip(path, f"openmini test gemma3 projector (random, seed {seed})",
                      gguf.VisionProjectorType.GEMMA3, tensors, width=width, layers=layers,
                      n_embd=n_embd, image_size=image_size, patch=patch, mean=SIGLIP_MEAN,
                      std=SIGLIP_STD, eps=1e-6, use_gelu=True,
                      more=lambda w: w.add_vision_projector_scale_factor(pool))
