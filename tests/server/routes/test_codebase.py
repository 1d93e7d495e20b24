"""`codebase` on chat and completions over HTTP, with the openai SDK against a real server, an
index made over HTTP with the real embedding model: what reaches a scripted backend, the
`context` field (the body's; streaming: the first chunk's), the 4xx that name their field;
then fill-in-the-middle on the real `fast` model, whose answer needs a name defined in
another file of the repository."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from openmini.backends.base import Capabilities
from openmini.config import ServerConfig
from openmini.engine.embed import Embedder, EmbedSettings
from openmini.index.context_prompt import HEADER, NEW_MESSAGE_TOKENS
from openmini.models import resolve_model

from ..fake_backend import FakeBackend
from .serving import serving

pytestmark = pytest.mark.model

SHAPES = '''def measure_outline_length(points):
    """The perimeter of a closed polygon, in millimetres."""
    total = 0.0
    for a, b in zip(points, points[1:] + points[:1]):
        total += ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
    return total


def polygon_area(points):
    """The area of a simple polygon (shoelace formula)."""
    return abs(sum(a[0] * b[1] - b[0] * a[1]
                   for a, b in zip(points, points[1:] + points[:1]))) / 2
'''
DATES = 'def parse_http_date(value):\n    """An HTTP date as a timestamp."""\n    return 0\n'
PROMPT = ('from geometry import shapes\n\n\ndef print_report(points):\n'
          '    """Print the perimeter of the polygon."""\n    perimeter = shapes.')
SUFFIX = '(points)\n    print(f"perimeter: {perimeter:.1f} mm")\n'


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("codebase")
    root = base / "roots" / "geo"
    (root / "geometry").mkdir(parents=True)
    (root / "http").mkdir()
    (root / "geometry" / "shapes.py").write_text(SHAPES)
    (root / "http" / "dates.py").write_text(DATES)
    (root / "report.py").write_text("from geometry import shapes\n")
    return base


def start(place: Path, backend: Any) -> Any:
    """A server over `backend` and its own embedding model (its lifespan closes both)."""
    config = ServerConfig(data_dir=str(place / "data"), index_roots=(str(place / "roots"),))
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    return serving(config, backend, embedders={"all-minilm-l6-v2": embedder})


def get(client: openai.OpenAI, path: str) -> Any:
    return client.get(path, cast_to=object)


def sdk(url: str, place: Path) -> openai.OpenAI:
    """A client, once the index `geo` of the repository is ready (made over HTTP)."""
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    names = [i["name"] for i in get(client, "/indexes")["data"]]
    if "geo" not in names:
        client.post("/indexes", body={"name": "geo", "path": str(place / "roots" / "geo")},
                    cast_to=object)
    deadline = time.monotonic() + 60
    while get(client, "/indexes/geo")["status"] == "indexing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return client


@pytest.fixture(scope="module")
def scripted(place: Path) -> Iterator[tuple[openai.OpenAI, FakeBackend]]:
    backend = FakeBackend(capabilities=Capabilities(max_n=4, fim=True))
    with start(place, backend) as url:
        yield sdk(url, place), backend


def chat(client: openai.OpenAI, question: str, **codebase: Any) -> Any:
    return client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": question}],
        extra_body={"codebase": {"index": "geo", **codebase}})


def test_chat_gets_the_code_in_a_system_message_and_answers_with_its_sources(
        scripted: tuple[openai.OpenAI, FakeBackend]) -> None:
    client, backend = scripted
    done = chat(client, "How is the perimeter measured?", k=2)
    assert done.choices[0].message.content == "Hello world"
    context = (done.model_extra or {})["context"]
    assert [(c["path"], c["start_line"], c["end_line"]) for c in context] == [
        ("geometry/shapes.py", 1, 6), ("geometry/shapes.py", 9, 12)]
    assert context[0]["score"] >= context[1]["score"] > 0
    sent = backend.requests[-1].messages
    assert sent is not None and [m.role for m in sent] == ["system", "user"]
    system = sent[0].content
    assert system.startswith(HEADER + "\n\ngeometry/shapes.py:1-6\n```python\n" + SHAPES[:30])
    assert "\ngeometry/shapes.py:9-12\n```python\ndef polygon_area" in system
    assert sent[1].content == "How is the perimeter measured?"


def test_the_snippets_stay_within_the_budget(
        scripted: tuple[openai.OpenAI, FakeBackend]) -> None:
    client, backend = scripted
    done = chat(client, "How is the perimeter measured?", k=6, max_tokens=300)
    context = (done.model_extra or {})["context"]
    sent = backend.requests[-1].messages
    assert sent is not None
    system = sent[0].content
    # a scripted backend has no tokenizer: bytes bound the tokens (+1), plus the markup
    assert len(system.encode()) + 1 + NEW_MESSAGE_TOKENS <= 300
    labels = [f"{c['path']}:{c['start_line']}-{c['end_line']}" for c in context]
    assert labels and all(f"\n{label}\n" in system for label in labels)
    assert "geometry/shapes.py:1-6" not in labels  # 250 bytes: past what was left


def test_streaming_carries_the_context_on_the_first_chunk(
        scripted: tuple[openai.OpenAI, FakeBackend]) -> None:
    client, _ = scripted
    chunks = list(client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "parse an http date"}],
        stream=True, extra_body={"codebase": {"index": "geo", "k": 1}}))
    first = chunks[0].model_extra or {}
    assert [c["path"] for c in first["context"]] == ["http/dates.py"]
    assert all("context" not in (c.model_extra or {}) for c in chunks[1:])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Hello world"
    text_chunks = list(client.completions.create(
        model="fake", prompt="value = parse_http_", suffix="(raw)\n", stream=True,
        extra_body={"codebase": {"index": "geo", "k": 1, "path": "report.py"}}))
    assert (text_chunks[0].model_extra or {})["context"][0]["path"] == "http/dates.py"


def test_without_codebase_there_is_no_context_field(
        scripted: tuple[openai.OpenAI, FakeBackend]) -> None:
    client, _ = scripted
    done = client.completions.create(model="fake", prompt="x = ")
    assert "context" not in (done.model_extra or {})


@pytest.mark.parametrize(("codebase", "error", "param"), [
    ({"index": "missing"}, openai.NotFoundError, "codebase.index"),
    ({"index": "no spaces"}, openai.BadRequestError, "codebase.index"),
    ({"index": "geo", "k": 0}, openai.BadRequestError, "codebase.k"),
    ({"index": "geo", "k": 51}, openai.BadRequestError, "codebase.k"),
    ({"index": "geo", "max_tokens": 0}, openai.BadRequestError, "codebase.max_tokens"),
    ({"index": "geo", "top": 3}, openai.BadRequestError, "codebase.top"),
    ({"k": 3}, openai.BadRequestError, "codebase.index"),
])
def test_bad_codebases_name_their_field(scripted: tuple[openai.OpenAI, FakeBackend],
                                        codebase: dict[str, Any], error: type[Exception],
                                        param: str) -> None:
    client, _ = scripted
    with pytest.raises(error) as info:
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "q"}],
                                       extra_body={"codebase": codebase})
    body = info.value.body  # type: ignore[attr-defined]
    assert body["param"] == param


# --- the real `fast` model ----------------------------------------------------------------


def test_fim_on_fast_uses_a_name_from_another_file(place: Path) -> None:
    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig

    backend = LocalBackend(EngineConfig(model="fast", threads=2, parallel=1, ctx_size=2048))
    assert backend.capabilities.repo_context
    with start(place, backend) as url:
        client = sdk(url, place)
        model = client.models.list().data[0].id

        def infill(**extra: Any) -> Any:
            return client.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX,
                                             max_tokens=12, temperature=0, extra_body=extra)

        alone = infill()
        helped = infill(codebase={"index": "geo", "k": 4, "path": "report.py"})
    assert "measure_outline_length" not in alone.choices[0].text
    assert helped.choices[0].text.startswith("measure_outline_length(")
    sources = (helped.model_extra or {})["context"]
    assert sources[0]["path"] == "geometry/shapes.py" and "report.py" not in [
        s["path"] for s in sources]
    assert helped.usage is not None and alone.usage is not None
    assert helped.usage.prompt_tokens > alone.usage.prompt_tokens + 100  # the files, first
