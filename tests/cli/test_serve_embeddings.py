"""`openmini serve` opens the embedding model beside the chat models and hands it to the
server; `--no-embeddings` turns it off (nothing is loaded: the three steps are stand-ins)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from openmini.cli.main import app


@pytest.mark.parametrize(("flags", "expected"), [([], True), (["--no-embeddings"], False)])
def test_serve_passes_the_embedding_models_on(monkeypatch: pytest.MonkeyPatch,
                                             flags: list[str], expected: bool) -> None:
    from openmini.engine import embed
    from openmini.router import build
    from openmini.server import run

    seen: dict[str, Any] = {}
    monkeypatch.delenv("OPENMINI_CONFIG", raising=False)
    monkeypatch.setattr(embed, "open_embedders", lambda config, *_: seen.setdefault(
        "embedders", {"e": config.embeddings}))
    monkeypatch.setattr(build, "build_router", lambda *_, **__: "router")
    monkeypatch.setattr(run, "serve", lambda config, router, embedders: seen.update(
        served=(router, embedders)))
    result = CliRunner().invoke(app, ["serve", *flags])
    assert result.exit_code == 0, result.output
    assert seen["served"] == ("router", {"e": expected})
