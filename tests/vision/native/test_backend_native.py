"""The native vision path end to end on the `fast` model with a random projector (`mmproj`):
the pipeline's vision stage decodes and fits the images, the local backend renders the chat
template with the projector's marker, tokenizes around it as mtmd does, encodes the images and
the engine decodes their rows in place; against llama.cpp's server with the same files, the
greedy text is the same."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bench_peers import bench_common
from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig, ServerConfig
from openmini.errors import ModelAssemblyError
from openmini.models import resolve_model
from openmini.pipeline import Completion, Pipeline, collect
from openmini.tools.calls import ToolCall
from openmini.tools.spec import ToolChoice, ToolSpec
from openmini.types import ChatMessage, ImagePart, Request, SamplingParams
from openmini.vision.policy import from_config
from openmini.vision.stage import Intake

from .projector import make_projector, picture

pytestmark = pytest.mark.model

QUESTION = "What is in this image?"
WEATHER = ToolSpec("get_weather", "Current weather of a city.", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
N_IMAGE = (224 // 14) ** 2


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def mmproj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_projector(tmp_path_factory.mktemp("mmproj") / "mmproj.gguf")


@pytest.fixture(scope="module")
def backend(mmproj: Path) -> Iterator[LocalBackend]:
    b = LocalBackend(EngineConfig(model="fast", threads=2, parallel=4, ctx_size=1024,
                                  prefix_cache_tokens=4096, mmproj=str(mmproj)))
    yield b
    asyncio.run(b.close())


@pytest.fixture(scope="module")
def pipeline(backend: LocalBackend) -> Pipeline:
    return Pipeline(backend, intake=Intake(*from_config(ServerConfig())))


def ask(backend: LocalBackend, image: bytes | None, text: str = QUESTION,
        max_tokens: int = 16) -> Request:
    images = (ImagePart(data=image, at=0, index=0),) if image is not None else ()
    return Request(model=backend.model_ids()[0],
                   messages=(ChatMessage("user", text, images=images),),
                   sampling=SamplingParams(max_tokens=max_tokens, temperature=0))


async def run(pipeline: Pipeline, req: Request) -> Completion:
    return await collect(pipeline.run(req))


async def test_an_image_request_answers(backend: LocalBackend, pipeline: Pipeline) -> None:
    assert backend.capabilities.vision == "native"
    out = await run(pipeline, ask(backend, png(picture(0))))
    assert out.text and out.choices[0].finish_reason in ("stop", "length")
    text_only = backend.prompt_tokens(ask(backend, None))
    assert out.usage.prompt_tokens >= N_IMAGE + len(text_only)  # the image's rows counted


async def test_the_same_image_again_is_cached(backend: LocalBackend, pipeline: Pipeline) -> None:
    image = png(picture(3))
    first = await run(pipeline, ask(backend, image))
    second = await run(pipeline, ask(backend, image, QUESTION + " Be brief."))
    assert second.usage.cached_tokens > N_IMAGE  # the text before the image and the image
    assert first.usage.cached_tokens < second.usage.cached_tokens
    again = await run(pipeline, ask(backend, png(picture(3).convert("RGBA"))))  # same pixels
    assert again.text == first.text and again.usage.cached_tokens >= N_IMAGE


async def test_different_images_answer_differently(backend: LocalBackend,
                                                   pipeline: Pipeline) -> None:
    """With a random projector the model may refuse whatever it sees: the first token's
    distribution still depends on the image."""
    outs = []
    for seed in (0, 1):
        req = ask(backend, png(picture(seed)), max_tokens=1)
        req = replace(req, sampling=replace(req.sampling, logprobs=True, top_logprobs=5))
        outs.append((await run(pipeline, req)).choices[0].logprobs)
    a, b = outs
    assert a and b
    assert [(t.token, round(t.logprob, 4)) for t in a[0].top] != [
        (t.token, round(t.logprob, 4)) for t in b[0].top]


async def test_text_requests_beside_an_image_keep_their_outputs(
        backend: LocalBackend, pipeline: Pipeline) -> None:
    texts = ["Count to five.", "Name a colour.", "What is 2+2?"]
    solo = [(await run(pipeline, ask(backend, None, t, 24))).text for t in texts]
    together = await asyncio.gather(run(pipeline, ask(backend, png(picture(5)))),
                                    *(run(pipeline, ask(backend, None, t, 24)) for t in texts))
    assert together[0].text
    assert [c.text for c in together[1:]] == solo


async def test_the_relevance_probe_sees_the_image_too(backend: LocalBackend,
                                                     pipeline: Pipeline,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """tool_choice auto on `fast` asks the relevance probe first: for a native model it is
    asked with the request's image in place, not with the text alone."""
    seen: dict[str, int] = {}
    original = backend.engine.generate

    def recording(fields: dict[str, Any]) -> Any:
        seen[str(fields["request_id"]).split("-")[0]] = len(fields.get("images") or ())
        return original(fields)

    monkeypatch.setattr(backend.engine, "generate", recording)
    req = replace(ask(backend, png(picture(4)), "What is the weather in the city shown?"),
                  tools=(WEATHER,), tool_choice=ToolChoice("auto"))
    out = await run(pipeline, req)
    assert out.choices[0].finish_reason in ("stop", "length", "tool_calls")
    assert seen["fit"] == 1 and max(seen.values()) == 1  # the probe and the answer


async def test_after_tool_results_the_decision_sees_the_image(
        backend: LocalBackend, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a tool result the call-or-text decision and the repeat score are probes of
    their own (issue 20): with a native model each is asked with the image in place."""
    seen: dict[str, int] = {}
    original = backend.engine.generate

    def recording(fields: dict[str, Any]) -> Any:
        seen[str(fields["request_id"]).split("-")[0]] = len(fields.get("images") or ())
        return original(fields)

    monkeypatch.setattr(backend.engine, "generate", recording)
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    first = ask(backend, png(picture(4)), "What is the weather in the city shown?")
    messages = (*first.messages, ChatMessage("assistant", "", tool_calls=(call,)),
                ChatMessage("tool", '{"temp_c": 18, "sky": "clear"}', tool_call_id=call.id))
    req = replace(first, messages=messages, tools=(WEATHER,), tool_choice=ToolChoice("auto"))
    out = await run(pipeline, req)
    assert out.choices[0].finish_reason in ("stop", "length", "tool_calls")
    assert seen.get("decide") == 1 and seen.get("repeat") == 1
    assert set(seen.values()) == {1}  # every probe and the answer: the image in place


def test_a_projector_of_another_width_is_refused_at_load(tmp_path: Path) -> None:
    bad = make_projector(tmp_path / "narrow.gguf", n_embd=512)
    with pytest.raises(ModelAssemblyError):
        LocalBackend(EngineConfig(model="fast", threads=2, parallel=1, ctx_size=512,
                                  prefix_cache_tokens=0, mmproj=str(bad)))



async def test_greedy_text_equals_llama_cpp_server(backend: LocalBackend, pipeline: Pipeline,
                                                   mmproj: Path) -> None:
    common = bench_common()
    one, two, three = png(picture(7)), png(picture(8, size=(300, 200))), png(picture(9))
    cases: list[list[tuple[str, Any]]] = [  # content parts: ("text", ...) or ("image", ...)
        [("image", one), ("text", QUESTION)],
        [("image", two), ("text", QUESTION)],
        [("text", "Compare the two images."), ("image", one), ("text", "and"),
         ("image", three), ("text", "Which is brighter?")]]
    ours = []
    for parts in cases:
        texts: list[str] = []
        found: list[ImagePart] = []
        for j, (kind, value) in enumerate(parts):
            if kind == "text":
                texts.append(str(value))
            else:
                found.append(ImagePart(data=value, at=len("\n".join(texts)), index=j))
        req = Request(model=backend.model_ids()[0], messages=(
            ChatMessage("user", "\n".join(texts), images=tuple(found)),),
            sampling=SamplingParams(max_tokens=24, temperature=0))
        ours.append((await run(pipeline, req)).text)
    with common.xserver(str(resolve_model("fast")), 2, 1, 2048, jinja=True,
                        mmproj=str(mmproj)) as server:
        theirs = []
        for parts in cases:
            content = [{"type": "text", "text": v} if k == "text" else {
                "type": "image_url", "image_url": {
                    "url": "data:image/png;base64," + base64.b64encode(v).decode()}}
                for k, v in parts]
            body = {"messages": [{"role": "user", "content": content}],
                    "temperature": 0, "max_tokens": 24}
            r = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=300)
            r.raise_for_status()
            theirs.append(r.json()["choices"][0]["message"]["content"])
    assert all(ours) and ours == theirs


def test_text_and_image_parts_join_as_llama_cpp_server_joins_them() -> None:
    from openmini.backends.local_template import _with_markers

    part = replace(ImagePart(data=b"", at=0), pixels=Image.new("RGB", (1, 1)))
    # seen from llama.cpp's server (/apply-template): "A." <M> "and" <M> "B?" -> A.<M>and<M>B?
    assert _with_markers("A.\nand\nB?", (replace(part, at=2), replace(part, at=6)),
                         "<M>") == "A.<M>and<M>B?"
    assert _with_markers("Describe.", (part,), "<M>") == "<M>Describe."
    assert _with_markers("Describe.", (replace(part, at=9),), "<M>") == "Describe.<M>"
    assert _with_markers("a\nb", (replace(part, at=1), replace(part, at=1)),
                         "<M>") == "a<M><M>b"
    assert _with_markers("", (part, part), "<M>") == "<M><M>"
