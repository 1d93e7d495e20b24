"""Text in an image: RapidOCR 3.10 (PP-OCRv6 small detector and recognizer) on onnxruntime,
from the ONNX files inside the `rapidocr` wheel.

The model paths are passed explicitly, so RapidOCR never reaches its download code (checked
by running under `unshare -n`: no network, same results). One engine per process, built on
first use under a lock; RapidOCR keeps per-call state (`update_params`), so calls are
serialized too (on 2 cores two OCRs at once would only share the same cores).

RapidOCR's per-line 180-degree classifier is off: it squeezes each line to 48x192, and on long
lines it flipped 8-14 of 60 upright lines of a rendered page (at scores up to 0.998), turning
them into garbage. Instead the page is turned as a whole: when the lines read upright have a
mean confidence under `DOUBT` (upright text measured 0.99, upside-down 0.70-0.75), the image
is also read turned by 180 degrees, and wins if it is at least 0.05 more confident. When most
boxes stand upright (a page on its side; RapidOCR turns such crops and may read them), the
image is read turned by 90 and by 270, and the better of those wins unless it is 0.05 less
confident than the sideways reading. Lines of 1-2 characters covering over 5% of the image
are dropped, and in photo-like images (scene.kind) those under 0.95 confidence too: they are
texture read as text ("8" over a whole coffee photo at 0.90, "0" on a cat's fur at 0.73);
elsewhere short lines are kept (line numbers beside code, a "2" in a table).

Large images are read at most `MAX_SIDE` pixels on their longest side (RapidOCR maps boxes
back to the full size). Measured (2 cores, warm): "Invoice #12345" at 0.999; a 1000x700
invoice 0.55-0.7 s (detection ~0.45 s, recognition ~0.2 s); a 2480x3508 page of 40 lines
3.6 s (recognition grows with the amount of text); detection alone on a 4032x3024 photo
(read at 1600x1200) 1.2 s. rapidocr-onnxruntime 1.4.4 (PP-OCRv4) was
measured too: as fast, but read "Date: 2026-11-02" as "Date:2026-11-02", and it needs
opencv-python (not headless) and Python < 3.13.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

MAX_SIDE = 1600  # longest side OCR works at
MIN_SCORE = 0.5  # recognition confidence below which a line is dropped (RapidOCR's default)
DOUBT = 0.85  # mean confidence under which other orientations are tried

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class RawLine:
    """One detected text line: its text, the recognizer's confidence, its quadrilateral."""

    text: str
    confidence: float
    quad: Quad


@dataclass(frozen=True, slots=True)
class Reading:
    lines: tuple[RawLine, ...]
    rotation: int = 0  # degrees the image was turned (counter-clockwise) to read it; boxes
    # are in that turned image's pixels

    @property
    def score(self) -> float:
        weight = sum(len(x.text) for x in self.lines)
        return sum(x.confidence * len(x.text) for x in self.lines) / weight if weight else 0.0


class Reader:
    """A lazily built RapidOCR engine, shared by every caller of one process."""

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        import rapidocr

        models = Path(rapidocr.__file__).parent / "models"
        files = {
            "Det": models / "PP-OCRv6_det_small.onnx",
            "Rec": models / "PP-OCRv6_rec_small.onnx",
            "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        }
        missing = [str(path) for path in files.values() if not path.is_file()]
        if missing:  # never let RapidOCR fall back to downloading
            raise FileNotFoundError(f"the rapidocr wheel lacks {missing}")
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Global.max_side_len": MAX_SIDE,
            "Global.text_score": MIN_SCORE,
            "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        params.update({f"{task}.model_path": str(path) for task, path in files.items()})
        return rapidocr.RapidOCR(params=params)

    def _run(self, image: Image.Image, photo: bool) -> list[RawLine]:
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
            result = self._engine(bgr)
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        area = image.width * image.height
        lines = []
        for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            (a, b, c, d) = ((float(x), float(y)) for x, y in np.asarray(box)[:4])
            line = RawLine(text.strip(), float(score), (a, b, c, d))
            if line.text and not _noise(line, area, photo):
                lines.append(line)
        return lines

    def read(self, image: Image.Image, photo: bool = False) -> Reading:
        """The text lines of an RGB image, read the way up that reads best; `photo`: drop
        short low-confidence lines (see the module docstring)."""
        best = Reading(tuple(self._run(image, photo)))
        if len(best.lines) < 2:
            return best
        if sum(_upright(x.quad) for x in best.lines) > len(best.lines) / 2:  # on its side
            side = max((self._turned(image, t, photo) for t in (90, 270)), key=lambda r: r.score)
            return side if side.score >= best.score - 0.05 else best
        if best.score < DOUBT:
            other = self._turned(image, 180, photo)
            return other if other.score > best.score + 0.05 else best
        return best

    def _turned(self, image: Image.Image, turn: int, photo: bool) -> Reading:
        return Reading(tuple(self._run(image.rotate(turn, expand=True), photo)), turn)


def _noise(line: RawLine, area: int, photo: bool) -> bool:
    xs = [p[0] for p in line.quad]
    ys = [p[1] for p in line.quad]
    covers = (max(xs) - min(xs)) * (max(ys) - min(ys)) / max(area, 1)
    short = len(line.text.replace(" ", "")) <= 2
    return short and (covers > 0.05 or (photo and line.confidence < 0.95))


def _upright(quad: Quad) -> bool:
    (ax, ay), (bx, by), _, (dx, dy) = quad
    return bool(np.hypot(dx - ax, dy - ay) > 1.5 * np.hypot(bx - ax, by - ay))
