"""A small CLIP-ViT vision encoder + LLaVA MLP projector written as an mmproj GGUF, with
random weights: no vision weights can be downloaded here (see shared MODELS.md, "Vision"), so
the native vision path is tested mechanically against a projector made on the spot.

What llama.cpp's `tools/mtmd/clip.cpp` reads (projector type "mlp", graph `clip_graph_llava`):

- keys: `clip.projector_type`, `clip.has_vision_encoder`, `clip.vision.{embedding_length,
  attention.head_count, feed_forward_length, block_count, projection_dim,
  attention.layer_norm_epsilon, image_size, patch_size, image_mean, image_std}`;
- tensors (ggml order is the numpy shape reversed): `v.patch_embd.weight` (width, 3, p, p) and
  its bias, `v.position_embd.weight` (n_patches, width) (no class embedding: every position is
  a patch), `v.pre_ln.*`, per layer `v.blk.N.{ln1,ln2,attn_q,attn_k,attn_v,attn_out,ffn_up,
  ffn_down}.*`, then `mm.0` (width -> n_embd), GELU, `mm.2` (n_embd -> n_embd).

The encoder runs the layers up to the second to last (LLaVA's feature layer), so `layers=2`
runs one. An image becomes (image_size / patch)**2 tokens of width `n_embd`: 256 for 224/14.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import gguf
import numpy as np
from PIL import Image, ImageDraw

from openmini.engine.model import ContextSettings, LlamaModel
from openmini.models import resolve_model

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class Weights:
    """Random tensors of a ViT projector, reproducible from `seed`."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def linear(self, n_out: int, n_in: int, scale: float = 1.0) -> np.ndarray:
        return (scale * self.rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
                ).astype(np.float32)

    def vec(self, n: int, scale: float = 0.02, base: float = 0.0) -> np.ndarray:
        return (base + scale * self.rng.standard_normal(n)).astype(np.float32)

    def conv(self, width: int, patch: int, fan_in: int) -> np.ndarray:
        return (self.rng.standard_normal((width, 3, patch, patch)) / np.sqrt(fan_in)
                ).astype(np.float32)

    def layers(self, width: int, n_ff: int, count: int) -> dict[str, np.ndarray]:
        """`v.blk.N.*` for `count` pre-norm layers: ln1, attention, ln2, an MLP."""
        out: dict[str, np.ndarray] = {}
        for i in range(count):
            b = f"v.blk.{i}"
            for ln in ("ln1", "ln2"):
                out[f"{b}.{ln}.weight"] = self.vec(width, base=1.0)
                out[f"{b}.{ln}.bias"] = self.vec(width)
            for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
                out[f"{b}.{name}.weight"] = self.linear(width, width)
                out[f"{b}.{name}.bias"] = self.vec(width)
            out[f"{b}.ffn_up.weight"] = self.linear(n_ff, width)
            out[f"{b}.ffn_up.bias"] = self.vec(n_ff)
            out[f"{b}.ffn_down.weight"] = self.linear(width, n_ff)
            out[f"{b}.ffn_down.bias"] = self.vec(width)
        return out


def write_clip(path: Path, name: str, projector_type: str, tensors: dict[str, np.ndarray], *,
               width: int, layers: int, n_embd: int, image_size: int, patch: int,
               mean: tuple[float, ...], std: tuple[float, ...], eps: float, use_gelu: bool,
               more: Callable[[gguf.GGUFWriter], object] | None = None) -> Path:
    """An mmproj GGUF with the keys clip.cpp reads for every vision projector."""
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name(name)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_clip_projector_type(projector_type)
    w.add_clip_has_vision_encoder(True)
    w.add_vision_embedding_length(width)
    w.add_vision_head_count(max(1, width // 32))
    w.add_vision_feed_forward_length(4 * width)
    w.add_vision_block_count(layers)
    w.add_vision_projection_dim(n_embd)
    w.add_vision_attention_layernorm_eps(eps)
    w.add_vision_image_size(image_size)
    w.add_vision_patch_size(patch)
    w.add_vision_image_mean(list(mean))
    w.add_vision_image_std(list(std))
    w.add_vision_use_gelu(use_gelu)
    if more is not None:
        more(w)
    for key, data in tensors.items():
        w.add_tensor(key, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def make_projector(path: Path, n_embd: int = 896, image_size: int = 224, patch: int = 14,
                   width: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Write the projector to `path` (the same bytes for the same arguments) and return it.

    `n_embd` must equal the text model's embedding width (896 for the `fast` model)."""
    if image_size % patch:
        raise ValueError(f"image_size {image_size} is not a multiple of patch {patch}")
    r, n_pos = Weights(seed), (image_size // patch) ** 2
    tensors = {
        "v.patch_embd.weight": r.conv(width, patch, 3 * patch * patch),
        "v.patch_embd.bias": r.vec(width),
        "v.position_embd.weight": (0.02 * r.rng.standard_normal((n_pos, width))
                                   ).astype(np.float32),
        "v.pre_ln.weight": r.vec(width, base=1.0),
        "v.pre_ln.bias": r.vec(width),
        **r.layers(width, 4 * width, layers),
        "mm.0.weight": r.linear(n_embd, width),
        "mm.0.bias": r.vec(n_embd),
        # Scaled so the image embeddings land near the size of the text model's token
        # embeddings.
        "mm.2.weight": 0.05 * r.linear(n_embd, n_embd),
        "mm.2.bias": r.vec(n_embd, scale=0.001),
    }
    return write_clip(
        path, f"openmini test projector (random, seed {seed})", "mlp", tensors, width=width,
        layers=layers, n_embd=n_embd, image_size=image_size, patch=patch, mean=CLIP_MEAN,
        std=CLIP_STD, eps=1e-5, use_gelu=False,  # CLIP's quick GELU
        more=lambda w: w.add_bool(gguf.Keys.Clip.HAS_LLAVA_PROJECTOR, True))  # older builds


def picture(seed: int, size: tuple[int, int] = (224, 224)) -> Image.Image:
    """A gradient with a few shapes placed by `seed`."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    base = np.broadcast_to(x * rng.uniform(0, 1, 3) + y * rng.uniform(0, 1, 3), (h, w, 3))
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        d.ellipse((x0, y0, x0 + 40, y0 + 40), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return im


@contextmanager
def fast_model(n_ctx: int = 1024, n_seq_max: int = 1) -> Iterator[LlamaModel]:
    """The `fast` text model the random projector is made for, closed after use."""
    model = LlamaModel(resolve_model("fast"), ContextSettings(
        n_ctx=n_ctx, n_batch=512, n_seq_max=n_seq_max, threads=2))
    try:
        yield model
    finally:
        model.close()
