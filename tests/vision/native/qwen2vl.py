"""A Qwen2-VL pair for the M-RoPE image path, made on the spot (no vision weights can be had
here, see shared MODELS.md "Vision"):

- the text model: the `fast` GGUF (Qwen2.5 0.5B) rewritten as llama.cpp's `qwen2vl`
  architecture: the same tensors and tokenizer, `qwen2.*` keys renamed, and
  `qwen2vl.rope.dimension_sections` added. llama.cpp then ropes with M-RoPE (4 positions per
  token; text alone places the t, y, x planes at the token's position). The text is close
  to `fast`'s but not always equal: a near tie can go the other way.
- the projector: a `qwen2vl_merger` mmproj with random weights (clip.cpp's
  `clip_graph_qwen2vl`): two patch convolutions (Qwen2-VL's temporal patch of 2, split), no
  patch bias and no position embedding (the encoder ropes 2-D itself), layers of
  ln1/attn/ln2/ffn, then the 2x2 merger `mm.0` (4w -> 4w), GELU, `mm.2` (4w -> n_embd).
  An image of 224x224 becomes (224/28)**2 = 64 tokens that take max(8, 8) = 8 positions.
"""

from __future__ import annotations

from pathlib import Path

import gguf

from openmini.models import resolve_model

from .projector import Weights, write_clip

QWEN_MEAN = (0.48145466, 0.4578275, 0.40821073)
QWEN_STD = (0.26862954, 0.26130258, 0.27577711)


def make_qwen2vl_text(path: Path, source: Path | None = None,
                      sections: tuple[int, int, int, int] = (8, 12, 12, 0)) -> Path:
    """Write `source` (default: the `fast` model) as a `qwen2vl` GGUF at `path`.

    `sections` split the rotary half-dimensions (32 for a 64-wide head) between the t, y, x
    planes and the fourth, as Qwen2-VL's (16, 24, 24) do for its 128-wide heads."""
    src = gguf.GGUFReader(str(source or resolve_model("fast")))
    arch = str(src.fields["general.architecture"].contents())
    w = gguf.GGUFWriter(str(path), "qwen2vl")
    for key, field in src.fields.items():
        if key.startswith("GGUF.") or key in ("general.architecture",):
            continue
        name = "qwen2vl" + key[len(arch):] if key.startswith(arch + ".") else key
        value = field.contents()
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            w.add_key_value(name, value, kind, sub_type=field.types[-1])
        else:
            w.add_key_value(name, value, kind)
    w.add_array(gguf.Keys.Rope.DIMENSION_SECTIONS.format(arch="qwen2vl"), list(sections))
    for t in src.tensors:
        w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)  # quantized: rows of bytes
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def make_qwen2vl_projector(path: Path, n_embd: int = 896, patch: int = 14, width: int = 64,
                           layers: int = 2, seed: int = 0) -> Path:
    """Write a random `qwen2vl_merger` projector to `path` (the same bytes for the same
    arguments). `n_embd` must equal the text model's embedding width."""
    r = Weights(seed)
    tensors = {
        "v.patch_embd.weight": r.conv(width, patch, 6 * patch * patch),
        "v.patch_embd.weight.1": r.conv(width, patch, 6 * patch * patch),
        **r.layers(width, 4 * width, layers),
        "v.post_ln.weight": r.vec(width, base=1.0),
        "v.post_ln.bias": r.vec(width),
        "mm.0.weight": r.linear(4 * width, 4 * width),
        "mm.0.bias": r.vec(4 * width),
        # Scaled so the image rows land near the size of the text model's token embeddings.
        "mm.2.weight": r.linear(n_embd, 4 * width, scale=0.05),
        "mm.2.bias": r.vec(n_embd, scale=0.001),
    }
    return write_clip(path, f"openmini test qwen2vl projector (random, seed {seed})",
                      gguf.VisionProjectorType.QWEN2VL, tensors, width=width, layers=layers,
                      n_embd=n_embd, image_size=224, patch=patch, mean=QWEN_MEAN, std=QWEN_STD,
                      eps=1e-6, use_gelu=False)  # Qwen2-VL's encoder MLP: quick GELU
