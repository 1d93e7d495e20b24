"""A sentence-transformers BERT checkpoint (safetensors + WordPiece tokenizer) -> an f16 GGUF
of llama.cpp's `bert` architecture, with numpy and the `gguf` package alone (no torch).

It does what llama.cpp's convert_hf_to_gguf.py does for `BertModel`: the tensors under their
GGUF names (the pooler left out), 1-D tensors (norms, biases) and the small position and
token-type tables kept f32, the other matrices f16; the vocabulary in llama.cpp's "phantom
space" form (`##x` -> `x`, a control token as it is, any other `t` -> `\u2581t`); the pooling
from `1_Pooling/config.json`. The output is a function of the input alone (fixed key order,
no dates, no paths), so the sha256 the catalogue pins for it is checked like any other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ARCH = "bert"
PHANTOM = "\u2581"
KEEP_F32 = ("position_embd.weight", "token_types.weight")  # as llama.cpp's converter
SKIPPED = ("embeddings.position_ids", "pooler.")
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": np.uint16}
_POOLING_MODES = (  # 1_Pooling/config.json key -> gguf.PoolingType name
    ("pooling_mode_mean_tokens", "MEAN"),
    ("pooling_mode_cls_token", "CLS"),
    ("pooling_mode_lasttoken", "LAST"),
)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a read-only numpy view (memory-mapped)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    header_len = int(raw[:8].view("<u8")[0])
    header = json.loads(bytes(raw[8:8 + header_len]))
    base = 8 + header_len
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        array = raw[base + begin:base + end].view(dtype).reshape(info["shape"])
        if info["dtype"] == "BF16":  # bf16 -> f32: the upper half of an f32's bits
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = array
    return out


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def pooling_type(model_dir: Path) -> str:
    """The gguf.PoolingType name the sentence-transformers pooling config asks for."""
    config = _json(model_dir / "1_Pooling" / "config.json")
    for key, name in _POOLING_MODES:
        if config.get(key):
            return name
    raise ValueError(f"{model_dir}: unsupported pooling {config}")


def vocabulary(model_dir: Path) -> tuple[list[str], list[int], dict[str, int]]:
    """(tokens in phantom-space form, gguf token types, special name -> id)."""
    import gguf

    tokenizer = _json(model_dir / "tokenizer.json")
    if tokenizer["model"]["type"] != "WordPiece":
        raise ValueError(f"{model_dir}: not a WordPiece tokenizer")
    by_id = sorted(tokenizer["model"]["vocab"].items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError(f"{model_dir}: the vocabulary's ids are not 0..n-1")
    vocab_txt = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if vocab_txt and vocab_txt != [t for t, _ in by_id]:
        raise ValueError(f"{model_dir}: vocab.txt and tokenizer.json disagree")
    control = {t["content"] for t in tokenizer["added_tokens"] if t.get("special")}
    tokens, types = [], []
    for token, _ in by_id:
        if token in control:
            tokens.append(token)
            types.append(int(gguf.TokenType.CONTROL))
        else:
            tokens.append(token[2:] if token.startswith("##") else PHANTOM + token)
            types.append(int(gguf.TokenType.NORMAL))
    config = _json(model_dir / "tokenizer_config.json")
    ids = {t: i for i, t in enumerate(t for t, _ in by_id)}
    specials = {name: ids[config[f"{name}_token"]] for name in ("cls", "sep", "unk", "pad", "mask")}
    return tokens, types, specials


def _tensors(weights: dict[str, np.ndarray], n_blocks: int) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, array as written) for every tensor but the pooler, in checkpoint order."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_blocks)
    for name, data in weights.items():
        if name.startswith(SKIPPED):
            continue
        key = name.removeprefix("bert.")
        target = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ValueError(f"no GGUF name for the tensor {name!r}")
        f32 = data.ndim <= 1 or target in KEEP_F32
        yield target, np.ascontiguousarray(data, dtype=np.float32 if f32 else np.float16)


def _hyperparameters(writer: Any, config: dict[str, Any], pooling: str) -> None:
    import gguf

    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType[pooling])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)


def _tokenizer(writer: Any, model_dir: Path, type_count: int) -> None:
    tokens, types, special = vocabulary(model_dir)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(type_count)
    # llama.cpp's WordPiece: [CLS] is the "bos" it puts first, [SEP] the "sep" it puts last
    writer.add_bos_token_id(special["cls"])
    writer.add_sep_token_id(special["sep"])
    writer.add_unk_token_id(special["unk"])
    writer.add_pad_token_id(special["pad"])
    writer.add_mask_token_id(special["mask"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)


def convert(model_dir: Path, out: Path, name: str = "all-MiniLM-L6-v2",
            licence: str = "apache-2.0") -> None:
    """Write the GGUF of the checkpoint in `model_dir` (config.json, model.safetensors,
    tokenizer.json, vocab.txt, tokenizer_config.json, 1_Pooling/config.json) to `out`."""
    import gguf

    config = _json(model_dir / "config.json")
    if config.get("model_type") != "bert":
        raise ValueError(f"{model_dir}: not a BERT checkpoint ({config.get('model_type')})")
    weights = read_safetensors(model_dir / "model.safetensors")
    writer = gguf.GGUFWriter(out, ARCH)
    writer.add_name(name)
    writer.add_license(licence)
    _hyperparameters(writer, config, pooling_type(model_dir))
    _tokenizer(writer, model_dir, config.get("type_vocab_size", 1))
    for target, data in _tensors(weights, config["num_hidden_layers"]):
        writer.add_tensor(target, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
