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

SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)


def make_gemma3_projector(path: Path, n_embd: int = 896, image_size: int = 224,
                          patch: int = 14, width: int = 64, layers: int = 2, pool: int = 4,
                          seed: int = 0) -> Path:
    """Write the projector to `path` (the same bytes for the same arguments)."""
    side = image_size // patch
    if image_size % patch or side % pool:
        raise ValueError("the patch grid must divide by the pool")
    rng = np.random.default_rng(seed)
    n_ff = 4 * width

    def linear(n_out: int, n_in: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)

    def vec(n: int, scale: float = 0.02, base: float = 0.0) -> np.ndarray:
        return (base + scale * rng.standard_normal(n)).astype(np.float32)

    tensors: dict[str, np.ndarray] = {
        "v.patch_embd.weight": (rng.standard_normal((width, 3, patch, patch))
                                / np.sqrt(3 * patch * patch)).astype(np.float32),
        "v.patch_embd.bias": vec(width),
        "v.position_embd.weight": (0.02 * rng.standard_normal((side * side, width))
                                   ).astype(np.float32),
    }
    for i in range(layers):
        b = f"v.blk.{i}"
        for ln in ("ln1", "ln2"):
            tensors[f"{b}.{ln}.weight"] = vec(width, base=1.0)
            tensors[f"{b}.{ln}.bias"] = vec(width)
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            tensors[f"{b}.{name}.weight"] = linear(width, width)
            tensors[f"{b}.{name}.bias"] = vec(width)
        tensors[f"{b}.ffn_up.weight"] = linear(n_ff, width)
        tensors[f"{b}.ffn_up.bias"] = vec(n_ff)
        tensors[f"{b}.ffn_down.weight"] = linear(width, n_ff)
        tensors[f"{b}.ffn_down.bias"] = vec(width)
    tensors["v.post_ln.weight"] = vec(width, base=1.0)
    tensors["v.post_ln.bias"] = vec(width)
    tensors["mm.soft_emb_norm.weight"] = vec(width, base=1.0)
    # (width, n_embd) in numpy order: clip.cpp multiplies by its transpose. Scaled so the rows
    # land near the size of the text model's token embeddings.
    tensors["mm.input_projection.weight"] = linear(width, n_embd, scale=0.05)

    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name(f"openmini test gemma3 projector (random, seed {seed})")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_clip_projector_type(gguf.VisionProjectorType.GEMMA3)
    w.add_clip_has_vision_encoder(True)
    w.add_vision_embedding_length(width)
    w.add_vision_head_count(max(1, width // 32))
    w.add_vision_feed_forward_length(n_ff)
    w.add_vision_block_count(layers)
    w.add_vision_projection_dim(n_embd)
    w.add_vision_attention_layernorm_eps(1e-6)
    w.add_vision_image_size(image_size)
    w.add_vision_patch_size(patch)
    w.add_vision_image_mean(list(SIGLIP_MEAN))
    w.add_vision_image_std(list(SIGLIP_STD))
    w.add_vision_use_gelu(True)
    w.add_vision_projector_scale_factor(pool)
    for name, data in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
