"""`codebase` through the in-process Python API: an index made by an IndexManager (as `openmini
index add` makes it) in a data directory, searched by an AsyncOpenMini over a scripted backend
(what reaches it, `Completion.context`), and the 400s that name the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import add_index
from openmini.api import AsyncOpenMini, OpenMini, codebase_of
from openmini.backends.base import Capabilities
from openmini.errors import InvalidRequest, NotFound
from openmini.index.context_prompt import HEADER
from openmini.index.manager import IndexManager
from openmini.types import Codebase
from server.fake_backend import FakeBackend

SHAPES = ('def measure_outline_length(points):\n    """The perimeter of a closed polygon."""\n'
          '    return sum(abs(a - b) for a, b in zip(points, points[1:]))\n')
DATES = 'def parse_http_date(value):\n    """An HTTP date as a timestamp."""\n    return 0\n'


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the index `geo` of a two-file repository."""
    base = tmp_path_factory.mktemp("api-codebase")
    repo = base / "geo"
    (repo / "geometry").mkdir(parents=True)
    (repo / "geometry" / "shapes.py").write_text(SHAPES)
    (repo / "dates.py").write_text(DATES)
    add_index(base / "data", repo, "geo")
    return base / "data"


@pytest.mark.model
async def test_chat_and_complete_place_the_code_and_report_it(data_dir: Path) -> None:
    backend = FakeBackend(capabilities=Capabilities(max_n=4, fim=True))
    om = AsyncOpenMini(backend=backend, data_dir=data_dir)
    try:
        done = await om.chat("How is the perimeter of a polygon measured?",
                             codebase={"index": "geo", "k": 1})
        assert [(c.path, c.start_line, c.end_line) for c in done.context] == [
            ("geometry/shapes.py", 1, 3)]
        sent = backend.requests[-1].messages
        assert sent is not None and sent[0].role == "system"
        assert sent[0].content.startswith(HEADER) and "measure_outline_length" in sent[0].content
        filled = await om.complete("when = parse_http_", suffix="(raw)\n",
                                   codebase=Codebase("geo", k=2, path="dates.py"))
        assert "dates.py" not in [c.path for c in filled.context]  # the current file
        plain = await om.chat("hello")
        assert plain.context == []
    finally:
        await om.close()


@pytest.mark.model
def test_the_sync_wrapper_and_an_unknown_index(data_dir: Path) -> None:
    with OpenMini(backend=FakeBackend(), data_dir=data_dir) as om:
        done = om.chat("parse an http date", codebase={"index": "geo", "k": 1})
        assert [c.path for c in done.context] == ["dates.py"]
        with pytest.raises(NotFound) as info:
            om.chat("q", codebase={"index": "nope"})
        assert info.value.param == "codebase.index"


async def test_an_index_manager_given_is_used_and_left_open(tmp_path: Path) -> None:
    manager = IndexManager(tmp_path / "indexes")
    om = AsyncOpenMini(backend=FakeBackend(), indexes=manager)
    assert om.indexes is manager and om.pipeline.indexes is manager
    with pytest.raises(NotFound):
        await om.chat("q", codebase={"index": "none"})
    await om.close()
    assert manager.names() == []  # still usable


@pytest.mark.parametrize(("spec", "param"), [
    ({"index": "geo", "top": 3}, "codebase.top"),
    ({"k": 3}, "codebase.index"),
    ({"index": 7}, "codebase.index"),
    ({"index": "geo", "k": 0}, "codebase.k"),
    ({"index": "geo", "k": 51}, "codebase.k"),
    ({"index": "geo", "k": True}, "codebase.k"),
    ({"index": "geo", "max_tokens": 0}, "codebase.max_tokens"),
    ({"index": "geo", "path": ""}, "codebase.path"),
    ("geo", "codebase"),
])
def test_bad_codebases_name_their_field(spec: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        codebase_of(spec)  # type: ignore[arg-type]
    assert info.value.param == param


def test_a_good_codebase_and_none() -> None:
    assert codebase_of({"index": "geo"}) == Codebase("geo", 6, 2048, None)
    assert codebase_of({"index": "geo", "k": 3, "max_tokens": 99, "path": "a.py"}) == \
        Codebase("geo", 3, 99, "a.py")
    assert codebase_of(None) is None

