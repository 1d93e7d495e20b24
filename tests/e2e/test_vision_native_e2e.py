"""Native vision through the official `openai` SDK against `openmini serve --model fast
--mmproj PROJ` (a random projector made in the test): the models list says "native", an
image request is answered with the image's rows counted in usage, the same image again reuses
them from the prefix cache, and a bad image is still a 400 naming the part."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from vision.native.projector import make_projector  # tests/ is on the path (rootdir)

from .conftest import serve

pytestmark = pytest.mark.model
ROWS = (224 // 14) ** 2  # the random projector's tokens per image


def data_url(colour: str) -> str:
    out = io.BytesIO()
    Image.new("RGB", (224, 224), colour).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    projector = make_projector(Path(tmp_path_factory.mktemp("mmproj")) / "proj.gguf")
    with serve("fast", "--parallel", "2", "--ctx-size", "2048", "--mmproj",
               str(projector)) as url:
        yield url


def test_native_images_through_the_sdk(base_url: str) -> None:
    data = httpx.get(f"{base_url}/v1/models", timeout=10).json()["data"]
    assert {m["vision"] for m in data if m["type"] == "chat"} == {"native"}
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=300)
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url("teal")}},
        {"type": "text", "text": "What colour is this?"}]}]
    first = client.chat.completions.create(model="fast", messages=messages,  # type: ignore[arg-type]
                                           temperature=0, max_tokens=8)
    assert first.usage is not None and first.usage.prompt_tokens > ROWS
    again = client.chat.completions.create(model="fast", messages=messages,  # type: ignore[arg-type]
                                           temperature=0, max_tokens=8)
    assert again.choices[0].message.content == first.choices[0].message.content
    details = again.usage.prompt_tokens_details if again.usage else None
    assert details is not None and (details.cached_tokens or 0) > ROWS
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="fast", max_tokens=4, messages=[  # type: ignore[list-item]
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/x.png"}}]}])
    assert exc.value.body["param"] == "messages[0].content[0].image_url"  # type: ignore[index]
