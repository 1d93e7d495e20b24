"""Configuration precedence (defaults < TOML < OPENMINI_* env < flags) and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmini.config import EngineConfig, load_config


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "openmini.toml"
    toml.write_text('port = 9000\n[engine]\nparallel = 6\nctx_size = 2048\nflash_attn = "off"\n')
    cfg = load_config(toml, env={"OPENMINI_PARALLEL": "3", "OPENMINI_PORT": "9100"},
                      overrides={"parallel": 2, "threads": None})
    assert cfg.port == 9100
    assert cfg.engine.parallel == 2  # the flag wins; None means "not given"
    assert cfg.engine.ctx_size == 2048
    assert cfg.engine.flash_attn == "off"
    assert cfg.engine.threads == 0


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="frobnicate"):
        load_config(env={}, overrides={"frobnicate": 1})


def test_flash_attn_is_validated() -> None:
    with pytest.raises(ValueError, match="flash_attn"):
        load_config(env={"OPENMINI_FLASH_ATTN": "sometimes"})
    assert EngineConfig().flash_attn == "auto"


def test_env_values_take_their_fields_types() -> None:
    cfg = load_config(env={"OPENMINI_TOOL_TEXT_THRESHOLD": "0.3", "OPENMINI_THREADS": "2",
                           "OPENMINI_API_KEY": "k"})
    assert cfg.engine.tool_text_threshold == 0.3 and cfg.engine.threads == 2
    assert cfg.api_key == "k"
    with pytest.raises(ValueError, match="OPENMINI_THREADS='two' is not a valid int"):
        load_config(env={"OPENMINI_THREADS": "two"})
