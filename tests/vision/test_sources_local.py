"""Image sources that need no network: data: URLs, file:// under roots, unknown schemes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from openmini.errors import ImageRefused
from openmini.vision.policy import ImageLimits, SourcePolicy
from openmini.vision.sources import load_image_bytes

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
LIMITS = ImageLimits(max_bytes=1000)
DEFAULT = SourcePolicy()


async def refused(url: str, policy: SourcePolicy = DEFAULT, **kw: Any) -> str:
    with pytest.raises(ImageRefused) as caught:
        await load_image_bytes(url, policy, LIMITS, **kw)
    return caught.value.message


# data:

B64 = base64.b64encode(IMAGE).decode()


async def test_data_url() -> None:
    assert await load_image_bytes(f"data:image/png;base64,{B64}", SourcePolicy(), LIMITS) == IMAGE
    spread = f"DATA:Image/PNG;charset=x;BASE64,{B64[:10]}\n {B64[10:]}"
    assert await load_image_bytes(spread, SourcePolicy(), LIMITS) == IMAGE
    large = IMAGE * 200  # decoded off the event loop
    url = f"data:image/png;base64,{base64.b64encode(large).decode()}"
    assert await load_image_bytes(url, SourcePolicy(), ImageLimits()) == large


@pytest.mark.parametrize(("url", "cause"), [
    ("data:image/png;base64,iVBOR*w0K", "malformed"),
    ("data:image/png;base64,iVBORw0", "malformed"),  # bad padding
    (f"data:text/plain;base64,{B64}", "must hold an image, not 'text/plain'"),
    (f"data:;base64,{B64}", "must hold an image"),
    ("data:image/png,rawbytes", "only base64"),
    ("data:image/png;base64", "no ','"),
    ("data:image/png;base64,", "empty"),
    ("data:image/png;base64," + "!" * 2000, "larger than the 1000 bytes limit"),  # before decode
    ("data:image/png;base64," + "A" * 1336, "larger than"),  # 1002 bytes
])
async def test_data_url_refused(url: str, cause: str) -> None:
    assert cause in await refused(url)


# file://


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "my image.png").write_bytes(IMAGE)
    (tmp_path / "root" / "big.png").write_bytes(b"x" * 1001)
    (tmp_path / "secret.png").write_bytes(b"secret")
    (tmp_path / "root" / "link.png").symlink_to(tmp_path / "secret.png")
    (tmp_path / "root" / "inner.png").symlink_to(tmp_path / "root" / "my image.png")
    return tmp_path / "root"


async def test_file_under_root(root: Path) -> None:
    policy = SourcePolicy(roots=(str(root),))
    for url in (f"file://{root}/my%20image.png", f"file://localhost{root}/inner.png",
                f"file://{root}/sub/../my%20image.png"):
        assert await load_image_bytes(url, policy, LIMITS) == IMAGE


@pytest.mark.parametrize(("name", "cause"), [
    ("../secret.png", "outside"),
    ("link.png", "outside"),
    ("../missing.png", "outside"),  # says nothing about files outside
    ("sub", "not a regular file"),
    ("missing.png", "does not exist"),
    ("big.png", "larger than"),
])
async def test_file_refused(root: Path, name: str, cause: str) -> None:
    assert cause in await refused(f"file://{root}/{name}", SourcePolicy(roots=(str(root),)))


async def test_file_url_forms(root: Path) -> None:
    policy = SourcePolicy(roots=(str(root),))
    assert "not enabled" in await refused(f"file://{root}/my%20image.png")
    assert "cannot name a host" in await refused(f"file://otherhost{root}/x.png", policy)
    assert "absolute path" in await refused("file:my.png", policy)
    assert "path only" in await refused(f"file://{root}/my.png?x=1", policy)


@pytest.mark.parametrize("url", [
    "ftp://images.test/a.png", "javascript:alert(1)", "/etc/passwd", "", "gopher://x/",
    "images.test/a.png",
])
async def test_unknown_schemes(url: str) -> None:
    cause = await refused(url, SourcePolicy(roots=("/srv",)))
    assert cause.endswith(" (this server takes data:, http(s)://, file://)")
