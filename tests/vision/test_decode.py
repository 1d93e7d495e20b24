"""decode(): every accepted format, conversions and orientation, and every refusal (bombs,
truncation, lying and foreign files) on real images built here with Pillow; fit() sizing."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFile

from openmini.errors import ImageRefused
from openmini.vision.decode import FORMATS, decode, fit, target_size
from openmini.vision.policy import ImageLimits

LIMITS = ImageLimits()
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(im: PILImage.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def noise(w: int, h: int, seed: int = 0) -> PILImage.Image:
    rng = np.random.default_rng(seed)
    return PILImage.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def halves(w: int, h: int) -> PILImage.Image:
    """Left half red, right half blue."""
    im = PILImage.new("RGB", (w, h), RED)
    im.paste(BLUE, (w // 2, 0, w, h))
    return im


def png_sized(w: int, h: int) -> bytes:
    """A valid 8x8 PNG whose IHDR is patched to declare w x h (CRC fixed)."""
    data = bytearray(encode(PILImage.new("RGB", (8, 8), RED), "PNG"))
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def refused(data: bytes, limits: ImageLimits = LIMITS) -> str:
    with pytest.raises(ImageRefused) as info:
        decode(data, limits)
    return info.value.message


# --- accepted ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips(fmt: str) -> None:
    src = halves(40, 30).convert("P") if fmt == "GIF" else halves(40, 30)
    image = decode(encode(src, fmt), LIMITS)
    assert (image.format, image.width, image.height) == (fmt, 40, 30)
    assert image.pixels.mode == "RGB" and image.pixels.size == (40, 30)
    assert len(image.digest) == 64
    assert image.pixels.getpixel((2, 15)) == pytest.approx(RED, abs=8)
    assert image.pixels.getpixel((37, 15)) == pytest.approx(BLUE, abs=8)


def test_digest_is_the_pixels_not_the_encoding() -> None:
    im = noise(32, 24)
    png, bmp = decode(encode(im, "PNG"), LIMITS), decode(encode(im, "BMP"), LIMITS)
    webp = decode(encode(im, "WEBP", lossless=True), LIMITS)
    assert png.digest == bmp.digest == webp.digest
    im.putpixel((5, 5), (1, 2, 3) if im.getpixel((5, 5)) != (1, 2, 3) else (4, 5, 6))
    assert decode(encode(im, "PNG"), LIMITS).digest != png.digest
    assert decode(encode(im.resize((24, 32)), "PNG"), LIMITS).digest != png.digest


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_6_rotates(fmt: str) -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to show
    image = decode(encode(halves(40, 20), fmt, exif=exif.tobytes()), LIMITS)
    assert (image.width, image.height) == (20, 40)
    assert image.pixels.getpixel((10, 2)) == pytest.approx(RED, abs=8)  # left went on top
    assert image.pixels.getpixel((10, 37)) == pytest.approx(BLUE, abs=8)


def test_rgba_flattened_on_white() -> None:
    im = PILImage.new("RGBA", (3, 1))
    im.putdata([(0, 0, 0, 0), (255, 0, 0, 128), (0, 0, 255, 255)])
    for fmt in ("PNG", "WEBP"):
        px = decode(encode(im, fmt, **({"lossless": True} if fmt == "WEBP" else {})), LIMITS)
        assert px.pixels.mode == "RGB"
        assert px.pixels.getpixel((0, 0)) == WHITE
        assert px.pixels.getpixel((1, 0)) == pytest.approx((255, 127, 127), abs=2)
        assert px.pixels.getpixel((2, 0)) == BLUE


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "CMYK", "I;16"])
def test_modes_become_rgb(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    im = PILImage.new(mode, (8, 8))
    image = decode(encode(im, fmt), LIMITS)
    assert image.pixels.mode == "RGB" and image.pixels.size == (8, 8)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    im = PILImage.new("I;16", (2, 1))
    im.putpixel((0, 0), 65535)
    im.putpixel((1, 0), 32896)  # 128 x 257
    px = decode(encode(im, "PNG"), LIMITS).pixels
    assert px.getpixel((0, 0)) == WHITE
    assert px.getpixel((1, 0)) == (128, 128, 128)


def test_transparent_palette_gif_on_white() -> None:
    im = PILImage.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.putpixel((0, 0), 0)
    image = decode(encode(im, "GIF", transparency=0), LIMITS)
    assert image.pixels.getpixel((0, 0)) == WHITE
    assert image.pixels.getpixel((3, 3)) == RED


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [PILImage.new("RGB", (16, 16), c).convert("P") for c in (RED, (0, 255, 0), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert getattr(PILImage.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode(data, LIMITS)
    assert (image.format, image.pixels.getpixel((8, 8))) == ("GIF", RED)


# --- refused -----------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [(100_000, 100_000), (8_000, 8_000), (40_000, 1_001)])
def test_png_bomb_refused_from_the_header(declared: tuple[int, int],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    real_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    t0 = time.perf_counter()
    message = refused(png_sized(*declared))
    assert time.perf_counter() - t0 < 0.5
    assert "pixels" in message
    assert loads == []  # refused before a pixel buffer was made or a byte decoded


def test_gif_with_a_huge_logical_screen_refused() -> None:
    data = bytearray(encode(PILImage.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", 9000, 9000)  # 81 Mpx: over max_pixels, under Pillow's
    assert "9000x9000" in refused(bytes(data))
    data[6:10] = struct.pack("<HH", 65535, 65535)  # 4.3 Gpx: Pillow's own check fires first
    assert "pixels" in refused(bytes(data))


def test_pixel_limit_is_the_configured_one() -> None:
    data = encode(noise(20, 20), "PNG")
    assert "over the limit of 399" in refused(data, ImageLimits(max_pixels=399))
    assert decode(data, ImageLimits(max_pixels=400)).width == 20


def test_pillow_bomb_warning_as_error_is_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        assert "too many pixels" in refused(png_sized(10_000, 10_000),
                                            ImageLimits(max_pixels=150_000_000))


def test_oversize_bytes_refused_before_anything() -> None:
    data = encode(noise(64, 64), "PNG")
    assert "over the limit of 1,000 bytes" in refused(data, ImageLimits(max_bytes=1000))
    assert "over the limit" in refused(b"not even an image" * 100, ImageLimits(max_bytes=10))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_truncated_refused(fmt: str) -> None:
    src = noise(300, 200).convert("P") if fmt == "GIF" else noise(300, 200)
    data = encode(src, fmt)
    message = refused(data[: len(data) // 2])
    assert fmt in message and ("truncated" in message or "not a valid" in message)


@pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a",
                                   b"BM", b"RIFF\x00\x10\x00\x00WEBPVP8 "])
def test_lying_file_refused(magic: bytes) -> None:
    junk = bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8))
    message = refused(magic + junk)  # junk may also declare a huge size: refused as such
    assert any(why in message for why in ("not a valid one", "corrupt", "too many pixels"))


def test_zero_size_refused() -> None:
    assert "not a valid" in refused(png_sized(0, 8))
    assert "not a valid" in refused(png_sized(8, 0))


@pytest.mark.parametrize(("data", "named"), [
    (encode(noise(16, 16), "TIFF"), "TIFF"),
    (encode(noise(16, 16), "ICO"), "ICO"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
    ("just some text, not an image — really\n".encode(), "text"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC"),
    (bytes(range(256)), "unrecognised"),
])
def test_other_kinds_refused_by_name(data: bytes, named: str) -> None:
    assert named in refused(data)


def test_empty_refused() -> None:
    assert "empty" in refused(b"")


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupted_bytes_only_ever_refuse(fmt: str) -> None:
    """Flipped bytes anywhere: decoded or ImageRefused, never another exception."""
    src = noise(48, 32).convert("P") if fmt == "GIF" else noise(48, 32)
    data = encode(src, fmt)
    rng = np.random.default_rng(7)
    for _ in range(60):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), 4):
            bad[pos] = int(rng.integers(0, 256))
        with contextlib.suppress(ImageRefused):
            decode(bytes(bad), LIMITS)


# --- fit ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "detail", "max_side", "want"), [
    ((4000, 3000), "low", None, (512, 384)),
    ((4000, 3000), "high", None, (1024, 768)),
    ((4000, 3000), "auto", None, (1024, 768)),
    ((6000, 1000), "high", None, (2048, 341)),  # the 2048 box binds, short side under 768
    ((1000, 1500), "high", None, (768, 1152)),  # only the short side binds
    ((4000, 3000), "high", 800, (800, 600)),
    ((300, 200), "low", None, (300, 200)),  # never upscaled
    ((500, 400), "high", 1000, (500, 400)),
])
def test_target_size(size: tuple[int, int], detail: str, max_side: int | None,
                     want: tuple[int, int]) -> None:
    assert target_size(*size, detail, max_side) == want


def test_fit_resizes_and_never_upscales() -> None:
    big = decode(encode(noise(1600, 1200), "PNG"), LIMITS)
    assert fit(big, "low").size == (512, 384)
    assert fit(big, "auto").size == fit(big, "high").size == (1024, 768)
    assert fit(big, "high", max_side=640).size == (640, 480)
    small = decode(encode(noise(100, 50), "PNG"), LIMITS)
    assert fit(small, "high") is small.pixels
    with pytest.raises(ValueError):
        fit(small, "medium")


def test_jpeg_decoded_for_a_fit_is_drafted() -> None:
    data = encode(noise(3000, 2000), "JPEG", quality=90)
    full = decode(data, LIMITS)
    drafted = decode(data, LIMITS, detail="low")
    assert (full.width, drafted.width) == (3000, 1500)  # 1/2 scale keeps >= 1.5x the target
    assert drafted.digest != full.digest
    assert fit(drafted, "low").size == fit(full, "low").size == (512, 341)
    assert decode(data, LIMITS, detail="low").digest == drafted.digest
    assert decode(data, LIMITS, detail="high").width == 3000  # 2.6x: not worth a draft
    with pytest.raises(ValueError):
        decode(data, LIMITS, detail="medium")  # a caller's bug, not the image's fault
