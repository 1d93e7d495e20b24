"""`[[providers]]` / `[[groups]]` / `models` in the config file: the contract's shape read
as written, and every mistake an error at start-up that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmini.config import load_config

CONTRACT = """
[[providers]]
name = "cluster"
kind = "openai"
base_url = "http://gpu-box:8000/v1"
api_key_env = "CLUSTER_KEY"
models = { "qwen-7b" = "Qwen/Qwen2.5-7B-Instruct" }
timeout_s = 60

[[groups]]
name = "chat"
members = ["fast", "qwen-7b"]
fallbacks = ["default"]
"""


def load(tmp_path: Path, text: str, **env: str) -> object:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path, env=env)


def test_the_contract_shape_is_read_as_written(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(tmp_path, 'models = ["fast"]\n' + CONTRACT)
    (p,) = config.providers  # type: ignore[attr-defined]
    (g,) = config.groups  # type: ignore[attr-defined]
    assert (p.name, p.kind, p.base_url, p.models, p.timeout_s) == (
        "cluster", "openai", "http://gpu-box:8000/v1",
        {"qwen-7b": "Qwen/Qwen2.5-7B-Instruct"}, 60)
    assert (g.name, g.members, g.fallbacks) == ("chat", ("fast", "qwen-7b"), ("default",))
    assert config.models == ("fast",)  # type: ignore[attr-defined]
    monkeypatch.setenv("CLUSTER_KEY", "sk-secret")
    assert p.api_key() == "sk-secret" and "sk-secret" not in repr(config)


def test_models_come_from_a_variable_too() -> None:
    assert load_config(None, env={"OPENMINI_MODELS": "fast, default"}).models == (
        "fast", "default")


@pytest.mark.parametrize("text, named", [
    ('[[providers]]\nname = "x"\nkind = "openai"\nbase_url = "http://h/v1"\n'
     'models = { a = "b" }\ncolour = "red"\n', "colour"),
    ('[[providers]]\nname = "x"\nkind = "grpc"\nbase_url = "http://h/v1"\nmodels = { a = "b" }\n',
     "kind"),
    ('[[providers]]\nname = "x"\nkind = "openai"\nbase_url = "ftp://h"\nmodels = { a = "b" }\n',
     "base_url"),
    ('[[providers]]\nname = "x"\nkind = "openai"\nmodels = { a = "b" }\n', "base_url"),
    ('[[providers]]\nname = "x"\nkind = "openai"\nbase_url = "http://h/v1"\nmodels = {}\n',
     "models"),
    ('[[groups]]\nname = "g"\nmembers = []\n', "members"),
    ('[[groups]]\nname = "g"\nmembers = ["a"]\n[[groups]]\nname = "g"\nmembers = ["b"]\n',
     "twice"),
    ('providers = "cluster"\n', "providers"),
])
def test_mistakes_are_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        load(tmp_path, text)
