"""Image bytes -> RGB pixels (Pillow), and the sizes a model is given (OpenAI's `detail` rules).

Accepted: PNG, JPEG, WebP, GIF (the first frame) and BMP. Everything else is refused before
any decoder runs, naming what was found when its signature says (TIFF, ICO, SVG, PDF, HTML,
HEIF/AVIF, text, ...): Pillow is only ever asked to open the one format the leading bytes
claim (`formats=[...]`), so no other plugin's parser sees hostile bytes.

Refused, each as `ImageRefused` with the cause alone (the caller names the request part):

- empty data, or more than `ImageLimits.max_bytes` (checked before anything else);
- more than `ImageLimits.max_pixels`, read from the header before a pixel is decoded: a
  decompression bomb (a 100-byte PNG declaring 100000x100000, a GIF with a huge logical
  screen) costs a header parse. Pillow's own bomb check (its global `MAX_IMAGE_PIXELS`, read,
  never changed here) is the second line: its error, or its warning when warnings are
  errors, is refused the same way; it also caps a `max_pixels` configured above ~179 Mpx;
- a file whose signature says one accepted format but whose body is not one ("lying"),
  truncated files (Pillow's `LOAD_TRUNCATED_IMAGES` stays off), zero-size images;
- anything Pillow raises while reading: every exception from it becomes `ImageRefused`.

Kept images are RGB with EXIF orientation applied, alpha composited on white; palette, 1-bit,
L/LA, CMYK and 16-bit grey are converted (16-bit scaled to 8, not clipped). ICC profiles are
not applied (pixels are taken as sRGB).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

from PIL import ExifTags, ImageOps, UnidentifiedImageError
from PIL import Image as PILImage

from openmini.errors import ImageRefused
from openmini.vision.policy import ImageLimits

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
DETAILS = ("low", "high", "auto")
LOW_BOX, HIGH_BOX, HIGH_SHORT_SIDE = 512, 2048, 768
# A JPEG decoded for a known fit keeps at least this many times the target on each side
# (DCT scaling at 1/2, 1/4, 1/8); measured against a full decode + LANCZOS: 35-49 dB PSNR.
DRAFT_GAP = 1.5
# fit(): a box `reduce` by an integer factor first, then LANCZOS over the last <= 2x
# (Pillow's `thumbnail` default): only shrinks of 4x or more take the shortcut.
RESIZE_GAP = 2.0
WHITE = (255, 255, 255)

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (  # (offset, bytes, what)
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"), (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"), (0, b"MM\x00*", "TIFF"), (0, b"II+\x00", "BigTIFF"),
    (0, b"\x00\x00\x01\x00", "ICO"), (0, b"\x00\x00\x02\x00", "CUR"), (0, b"%PDF", "PDF"),
    (0, b"8BPS", "PSD"), (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"), (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (0, b"qoif", "QOI"), (0, b"DDS ", "DDS"),
    (0, b"\x76\x2f\x31\x01", "OpenEXR"), (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"\x1f\x8b", "gzip data"), (0, b"RIFF", "a RIFF file (not WebP)"),
)
_NOT_IMAGES = frozenset({"PDF", "a ZIP archive", "gzip data", "a RIFF file (not WebP)",
                         "an ISO media file (MP4, MOV, ...)", "HTML", "XML", "text"})
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF",
                b"avif": "AVIF", b"avis": "AVIF"}


@dataclass(frozen=True, slots=True)
class Image:
    """A decoded image. `pixels` is shared, not copied: treat it as read-only."""

    pixels: PILImage.Image  # RGB, alpha flattened on white, EXIF orientation applied
    digest: str  # sha256 hex of mode, size and raw pixel bytes: the identity caches key on
    format: str  # "PNG" | "JPEG" | "WEBP" | "GIF" | "BMP"
    width: int  # after orientation (and after a JPEG draft, see `decode`)
    height: int


def decode(data: bytes, limits: ImageLimits, *, detail: str | None = None,
           max_side: int | None = None) -> Image:
    """Decode and check one image; blocking (CPU-bound): callers run it in a thread.

    `detail` (with `max_side`), when given, says the only fit the caller will take of this
    image (`fit(image, detail, max_side)`): a JPEG at least 2 x DRAFT_GAP = 3 times larger
    than that target on both sides is then decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT
    scaling, `draft`), keeping DRAFT_GAP x the target: a 12-Mpx photo for "auto" decodes at
    3 Mpx, about 3x faster. Width, height and digest then describe the pixels so decoded;
    the same bytes decoded for the same fit give the same digest.
    """
    if detail is not None:
        _check_fit(detail, max_side)
    if not data:
        raise ImageRefused("the image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageRefused(f"the image is {len(data):,} bytes, over the limit of "
                           f"{limits.max_bytes:,} bytes")
    found = sniff(data)
    if found is None or found in _NOT_IMAGES:
        raise ImageRefused(f"not an image ({found or 'unrecognised data'}); accepted: "
                           "PNG, JPEG, WebP, GIF, BMP")
    if found not in FORMATS:
        raise ImageRefused(f"unsupported image format: {found} (accepted: PNG, JPEG, WebP, "
                           "GIF, BMP)")
    try:
        return _decode(data, found, limits, detail, max_side)
    except ImageRefused:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as e:
        raise ImageRefused(f"the image declares too many pixels: {e}") from None
    except UnidentifiedImageError:
        raise ImageRefused(f"the data starts like a {found} file but is not a valid one "
                           "(corrupt, or another kind of file)") from None
    except Exception as e:  # any Pillow decoder error on hostile bytes: OSError, SyntaxError...
        raise ImageRefused(f"the {found} image is corrupt or truncated: {_cause(e)}") from None


def fit(image: Image, detail: str, max_side: int | None = None) -> PILImage.Image:
    """The pixels a model is given, per OpenAI's rules (see `target_size`); LANCZOS, never
    upscaled. Returns `image.pixels` itself when it already fits (do not mutate it)."""
    size = target_size(image.width, image.height, detail, max_side)
    if size == image.pixels.size:
        return image.pixels
    return image.pixels.resize(size, PILImage.Resampling.LANCZOS, reducing_gap=RESIZE_GAP)


def target_size(width: int, height: int, detail: str,
                max_side: int | None = None) -> tuple[int, int]:
    """OpenAI's image sizing: "low" fits within 512x512; "high" fits within 2048x2048, then
    the shortest side is brought down to 768; "auto" is taken as "high" (OpenAI leaves the
    choice to itself; we always keep the detail). `max_side` (a model's own limit) caps the
    longest side too. Aspect ratio kept, never upscaled."""
    _check_fit(detail, max_side)
    long, short = max(width, height), min(width, height)
    if detail == "low":
        scale = min(1.0, LOW_BOX / long)
    else:
        scale = min(1.0, HIGH_BOX / long, HIGH_SHORT_SIDE / short)
    if max_side is not None:
        scale = min(scale, max_side / long)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def sniff(data: bytes) -> str | None:
    """What the leading bytes say the data is: one of FORMATS, another named kind (a refused
    image format, "SVG", "HTML", "text", ...), or None when nothing is recognised."""
    head = data[:1024]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(head[8:12], "an ISO media file (MP4, MOV, ...)")
    for offset, magic, what in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return what
    text = _as_text(head)
    if text is None:
        return None
    lower = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lower and lower.startswith(("<svg", "<?xml", "<!doctype svg", "<!--")):
        return "SVG"
    if lower.startswith(("<!doctype html", "<html")):
        return "HTML"
    return "XML" if lower.startswith("<?xml") else "text"


def _check_fit(detail: str, max_side: int | None) -> None:
    """A caller's mistake (the wire schema admits only DETAILS), so ValueError."""
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, not {detail!r}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be positive, not {max_side}")


def _decode(data: bytes, fmt: str, limits: ImageLimits, detail: str | None,
            max_side: int | None) -> Image:
    im = PILImage.open(io.BytesIO(data), formats=[fmt])  # reads the header only
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageRefused(f"the {fmt} image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageRefused(f"the image is {width}x{height} = {width * height:,} pixels, over "
                           f"the limit of {limits.max_pixels:,}")
    if fmt == "JPEG" and detail is not None:
        tw, th = target_size(width, height, detail, max_side)
        im.draft(None, (math.ceil(tw * DRAFT_GAP), math.ceil(th * DRAFT_GAP)))
    im.load()  # the first frame; raises on truncated or corrupt data
    pixels = _rgb(_oriented(im))
    digest = hashlib.sha256(f"{pixels.mode} {pixels.width}x{pixels.height}\n".encode())
    digest.update(pixels.tobytes())
    return Image(pixels, digest.hexdigest(), fmt, pixels.width, pixels.height)


def _oriented(im: PILImage.Image) -> PILImage.Image:
    """EXIF (or XMP) orientation applied; the same object when there is none."""
    if im.getexif().get(ExifTags.Base.Orientation, 1) in range(2, 9):
        return ImageOps.exif_transpose(im)
    return im


def _rgb(im: PILImage.Image) -> PILImage.Image:
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grey: scale, don't clip
        im = im.point(lambda v: v * (1 / 257)).convert("L")
    if "A" in im.getbands() or im.info.get("transparency") is not None:
        rgba = im.convert("RGBA")
        out = PILImage.new("RGB", im.size, WHITE)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im if im.mode == "RGB" else im.convert("RGB")


def _as_text(head: bytes) -> str | None:
    """The data's start as text when it is printable UTF-8 (a multi-byte character cut at
    the end of `head` allowed), else None."""
    text = head.decode("utf-8", "replace")
    if "\ufffd" in text[:-1] or any(c < " " and c not in "\t\n\r\f" for c in text):
        return None
    return text


def _cause(e: Exception) -> str:
    msg = str(e).strip() or type(e).__name__
    return msg if len(msg) <= 200 else msg[:200] + "..."
