"""bench/common.py for tests that start the benches' peer servers (llama.cpp's server through
xllamacpp, a second openmini): loaded once, under its own module name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

NAME = "bench_common_for_tests"


def bench_common() -> ModuleType:
    if NAME in sys.modules:
        return sys.modules[NAME]
    path = Path(__file__).parents[1] / "bench" / "common.py"
    spec = importlib.util.spec_from_file_location(NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module
