"""Native vision: time to first token of an image request, cold (the image encoded and its rows
prefilled) vs a second request on the same image (cached: embeddings and KV reused), openmini
vs llama.cpp's server with the same model and projector in the same run.

Without --mmproj a random LLaVA MLP projector for the `fast` model is made on the spot
(tests/vision/native/projector.py: no vision weights can be downloaded here), so the answers
mean nothing; the timings are those of a 224x224 CLIP-style encoder of small width plus 256
image rows prefilled. openmini runs in-process; the peer is xllamacpp.Server (cache_prompt
on) in a child process, driven by streaming httpx requests.

--qwen2vl measures the M-RoPE path instead: the model rewritten as llama.cpp's `qwen2vl`
architecture and a random `qwen2vl_merger` projector (tests/vision/native/qwen2vl.py); a
224x224 image is then 64 rows at 8 positions.

    .venv/bin/python bench/vision_native.py --model fast --rounds 3
    .venv/bin/python bench/vision_native.py --model fast --rounds 3 --qwen2vl
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import tempfile
from pathlib import Path
from typing import Any

import httpx

from common import (
    AVX2_NOTE,
    Run,
    median,
    model_path,
    om_run,
    openmini,
    parser,
    ratio,
    save,
    sse_run,
    table,
    verdict,
    xserver,
)

QUESTION = "Describe this image in one sentence."


def _projector_module(name: str = "projector") -> Any:
    """tests/vision/native/{name}.py: the random projectors and the test pictures."""
    path = Path(__file__).parents[1] / "tests" / "vision" / "native" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"openmini_test_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_projector(directory: Path) -> Path:
    return Path(_projector_module().make_projector(directory / "mmproj-random.gguf"))


def qwen2vl_pair(model: Path, directory: Path) -> tuple[Path, Path]:
    """`model` as a qwen2vl GGUF and a random qwen2vl_merger projector for it."""
    q = _projector_module("qwen2vl")
    return (Path(q.make_qwen2vl_text(directory / "text-qwen2vl.gguf", model)),
            Path(q.make_qwen2vl_projector(directory / "mmproj-qwen2vl.gguf")))


def picture(seed: int, size: tuple[int, int] = (224, 224)) -> bytes:
    """A PNG unique to `seed` (the tests' picture: a gradient with a few discs)."""
    out = io.BytesIO()
    _projector_module().picture(seed, size).save(out, format="PNG")
    return out.getvalue()


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--mmproj", help="a projector GGUF for the model (default: a random one)")
    p.add_argument("--tokens", type=int, default=4, help="tokens generated per request")
    p.add_argument("--rounds", type=int, default=3, help="cold/cached pairs per engine")
    p.add_argument("--no-peer", action="store_true", help="skip the xllamacpp server")
    p.add_argument("--qwen2vl", action="store_true",
                   help="the M-RoPE path: the model as qwen2vl with a random qwen2vl projector")
    a = p.parse_args()
    if a.quick:
        a.tokens, a.rounds = min(a.tokens, 2), 1
    tmp = tempfile.TemporaryDirectory(prefix="bench-mmproj-")
    path, model = model_path(a.model), a.model
    if a.qwen2vl:
        text, projector = qwen2vl_pair(Path(path), Path(tmp.name))
        path, model = str(text), str(text)
        mmproj = a.mmproj or str(projector)
    else:
        mmproj = a.mmproj or str(random_projector(Path(tmp.name)))
    om = openmini(model, a.threads, parallel=1, mmproj=mmproj)
    gen = dict(max_tokens=a.tokens, temperature=0.0, ignore_eos=True)
    peer = None if a.no_peer else xserver(path, a.threads, 1, 4096, jinja=True, mmproj=mmproj)
    client = httpx.AsyncClient(timeout=None)

    async def om_req(image: bytes) -> Run:
        msgs = [{"role": "user", "content": [{"type": "image", "image": image}, QUESTION]}]
        return await om_run(om, msgs, **gen)

    async def x_req(image: bytes) -> Run:
        url = "data:image/png;base64," + base64.b64encode(image).decode()
        msgs: list[dict[str, Any]] = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": QUESTION}]}]
        assert peer is not None
        return await sse_run(client, f"{peer.url}/v1/chat/completions",
                             {"messages": msgs, "cache_prompt": True, **gen})

    engines = {"openmini": om_req, **({"xllamacpp": x_req} if peer else {})}
    for fn in engines.values():  # warm-up: buffers sized, code paths loaded
        await fn(picture(10_000))
    runs: dict[str, dict[str, list[Run]]] = {e: {"cold": [], "cached": []} for e in engines}
    try:
        for r in range(a.rounds):
            image = picture(r)  # new pixels each round: nothing cached from earlier rounds
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            for name in order:
                for kind in ("cold", "cached"):
                    run = await engines[name](image)
                    runs[name][kind].append(run)
                    print(f"round {r + 1} {name:9s} {kind:6s} TTFT {run.ttft * 1000:8.1f} ms  "
                          f"prompt {run.prompt_tokens} tokens, {run.cached_tokens} reused",
                          flush=True)
    finally:
        await om.close()
        await client.aclose()
        if peer:
            peer.stop()
        tmp.cleanup()

    ttft = {e: {k: median([x.ttft * 1000 for x in v]) for k, v in kinds.items()}
            for e, kinds in runs.items()}
    reused = {e: median([x.cached_tokens for x in kinds["cached"]]) for e, kinds in runs.items()}
    rows = [[e, t["cold"], t["cached"], reused[e], ratio(t["cached"], t["cold"])]
            for e, t in ttft.items()]
    table(f"Image request TTFT, {a.model}, {a.threads} threads, median of {a.rounds}",
          ["engine", "cold ms", "cached ms", "tokens reused", "cached/cold"], rows)
    r_om = ratio(ttft["openmini"]["cached"], ttft["openmini"]["cold"])
    ratios = [["openmini cached / cold", r_om, verdict(r_om, 0.1, False)]]
    if "xllamacpp" in ttft:
        for kind in ("cold", "cached"):
            r = ratio(ttft["openmini"][kind], ttft["xllamacpp"][kind])
            ratios.append([f"openmini {kind} / server {kind}", r, verdict(r, 1.0, False)])
        print(f"note: {AVX2_NOTE}")
    table("Ratios", ["ratio", "value", "verdict"], ratios)
    name = "vision_native_qwen2vl" if a.qwen2vl else "vision_native"
    save(name, a, {"ttft_ms": ttft, "reused_tokens": reused,
                   "ratio_cached_cold": r_om, "random_projector": not a.mmproj,
                   "runs": {e: {k: [(x.ttft, x.prompt_tokens, x.cached_tokens)
                                    for x in v] for k, v in kinds.items()}
                            for e, kinds in runs.items()}})


if __name__ == "__main__":
    asyncio.run(main())
