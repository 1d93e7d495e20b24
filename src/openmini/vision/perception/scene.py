"""Plain measurements of an image: orientation, what kind of picture it is, its main colours,
how many frontal faces it shows.

- Kind: "photo-like" when a 128-px thumbnail has a colourfulness (Hasler & Suesstrunk 2003)
  of at least 15 and at least 4% distinct 15-bit colours -- measured on 29 sample images
  (scikit-image's and scikit-learn's, an STM32 board photo) and 21 rendered ones: every colour
  photo 5-15%, graphics, logos and rendered text under 1.2%, scientific images (retina, cells,
  the Hubble deep field) 2.9-3.8%; "grayscale" when colourfulness is under 3; otherwise
  "graphic". perceive() says "document-like" for a non-photo that has text. The classifier's
  labels are only shown for photo-like images (see classify.py).
- Colours: Pillow's median-cut quantization of a 96-px thumbnail to 8 colours, each named by
  its nearest (CIELAB distance) entry of `PALETTE`, same names merged; those covering at
  least 5% of the image, largest first, at most 4. ~5 ms.
- Faces: OpenCV's frontal-face Haar cascade `alt2` (shipped in opencv-python-headless 4.x;
  5.x no longer has `cv2.CascadeClassifier`), on a grayscale copy at most 640 px wide, scale
  step 1.1, 5 neighbours, faces at least 4% of the short side. Measured on 14 images: 1 on
  scikit-image's astronaut and on a cartoon avatar, 0 on the cat, coffee, coins, flower,
  cells, motorcycle, temple, circuit board and an invoice; the cameraman (face half turned)
  is missed. The `default` cascade found 6 "faces" among the coins and 3 in the flower.
  30-120 ms. Upright frontal faces only: the count is a floor.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .facts import Colour

PALETTE: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245), "light grey": (190, 190, 190), "grey": (128, 128, 128),
    "dark grey": (64, 64, 64), "black": (10, 10, 10), "red": (200, 30, 30),
    "dark red": (120, 20, 20), "orange": (240, 140, 30), "yellow": (240, 220, 40),
    "beige": (225, 205, 160), "brown": (120, 75, 35), "green": (50, 160, 50),
    "dark green": (25, 80, 35), "light green": (150, 220, 120), "teal": (0, 128, 128),
    "light blue": (135, 195, 235), "blue": (40, 90, 210), "dark blue": (20, 30, 100),
    "purple": (120, 50, 160), "pink": (240, 150, 190), "magenta": (220, 40, 180),
}
MIN_SHARE = 0.05


def orientation(width: int, height: int) -> str:
    if abs(width - height) <= 0.05 * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def _thumb(image: Image.Image, side: int) -> np.ndarray:
    thumb = image.convert("RGB")
    thumb.thumbnail((side, side))
    return np.asarray(thumb, dtype=np.float32)


def kind(image: Image.Image) -> str:
    """"photo-like", "grayscale" or "graphic" (see the module docstring for the measurements)."""
    a = _thumb(image, 128)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg, yb = r - g, (r + g) / 2 - b
    colourful = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    q = a.astype(np.int32) >> 3
    distinct = len(np.unique(q[..., 0] << 10 | q[..., 1] << 5 | q[..., 2])) / (q.size // 3)
    if colourful >= 15 and distinct >= 0.04:
        return "photo-like"
    return "grayscale" if colourful < 3 else "graphic"


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255, shape (n, 3)) to CIELAB (D65)."""
    c = rgb / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


_NAMES = list(PALETTE)
_PALETTE_LAB = _lab(np.array(list(PALETTE.values()), dtype=np.float64))


def colours(image: Image.Image, limit: int = 4) -> tuple[Colour, ...]:
    """The main named colours and the share of the image each covers."""
    thumb = image.convert("RGB")
    thumb.thumbnail((96, 96))
    quant = thumb.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = np.array(quant.getpalette() or [], dtype=np.float64).reshape(-1, 3)
    counts = np.bincount(np.asarray(quant).ravel(), minlength=len(palette))
    used = np.nonzero(counts)[0]
    dist = ((_lab(palette[used])[:, None, :] - _PALETTE_LAB[None, :, :]) ** 2).sum(-1)
    shares: dict[str, float] = {}
    weighted: dict[str, np.ndarray] = {}
    total = counts.sum()
    for k, idx in zip(used, dist.argmin(1), strict=True):
        name = _NAMES[idx]
        share = counts[k] / total
        shares[name] = shares.get(name, 0.0) + share
        weighted[name] = weighted.get(name, np.zeros(3)) + palette[k] * share
    best = sorted(shares.items(), key=lambda kv: -kv[1])
    return tuple(
        Colour(name, float(share), tuple(int(v) for v in weighted[name] / share))  # type: ignore[arg-type]
        for name, share in best[:limit] if share >= MIN_SHARE
    )


class FaceCounter:
    """OpenCV's frontal-face cascade, loaded on first use; cv2 calls are serialized."""

    def __init__(self) -> None:
        self._cascade: Any = None
        self._lock = threading.Lock()

    def count(self, image: Image.Image) -> int:
        import cv2

        gray = image.convert("L")
        if gray.width > 640:
            gray = gray.resize((640, max(1, round(gray.height * 640 / gray.width))))
        pixels = np.asarray(gray)
        small = max(24, round(0.04 * min(pixels.shape)))
        with self._lock:
            if self._cascade is None:
                path = Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_alt2.xml"
                cascade = cv2.CascadeClassifier(str(path))
                if cascade.empty():
                    raise FileNotFoundError(path)
                self._cascade = cascade
            found = self._cascade.detectMultiScale(
                pixels, scaleFactor=1.1, minNeighbors=5, minSize=(small, small)
            )
        return len(found)
