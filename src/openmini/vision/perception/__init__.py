"""Perception: an image turned into facts a text-only model can use.

    facts = perceive(image)      # blocking: callers run it in a worker thread
    block = render(facts, 1)     # the text that replaces image 1 in the prompt

What it finds, with the bundled models only (no download, checked with the network off):
text (ocr.py: RapidOCR PP-OCRv6) laid out in reading order with tables (layout.py); size,
orientation, kind of picture, main colours and frontal faces (scene.py: Pillow, OpenCV Haar);
ImageNet labels for photo-like images above a measured threshold (classify.py:
EfficientNet-Lite0 rebuilt on onnxruntime); an NSFW probability for the safety layer
(safety.py: open_nsfw), never rendered.

Measured on this machine (2 cores), warm, median of 3: a 1000x700 invoice 0.65 s, a
600x400 photo 0.59 s, a 512x512 photo 0.43 s, a 2480x3508 page of 40 lines 3.6 s, a 4032x3024
photo 1.6 s (OCR detection at 1600 px: 1.2 s of it); the first call also loads every model
(+0.7 s). OCR is most of it; classifier, NSFW, faces and colours together take 0.05-0.25 s. A
`Perceiver` owns its models (each loaded on first use, under a lock); `perceive()` uses one
shared Perceiver, made on first use. bench/vision_docs.py --ocr-only (54 rendered documents:
invoices, receipts, forms, signs, code, tables; rotated up to 8 degrees and one by 90, noisy,
JPEG'd, blurred): character error rate 0.003 in reading order, 1.5% of words missed, ~1 s per
image.
"""

from __future__ import annotations

import threading
import time

from PIL import Image

from .classify import THRESHOLD, Classifier
from .facts import Colour, Facts, Label, Line, Table, TextBlock, render
from .layout import arrange
from .ocr import Reader
from .safety import NsfwScorer
from .scene import FaceCounter, colours, kind, orientation

__all__ = [
    "THRESHOLD", "Colour", "Facts", "Label", "Line", "Perceiver", "Table", "TextBlock",
    "perceive", "render",
]


class Perceiver:
    """The perception models of one process; thread-safe, each loaded on first use."""

    def __init__(self, threads: int = 2) -> None:
        self.reader = Reader(threads)
        self.classifier = Classifier(threads)
        self.faces = FaceCounter()
        self.nsfw = NsfwScorer(threads)

    def perceive(self, image: Image.Image) -> Facts:
        start = time.perf_counter()
        image = image.convert("RGB")
        picture = kind(image)
        reading = self.reader.read(image, photo=picture == "photo-like")
        blocks, tables = arrange(reading.lines)
        if picture != "photo-like" and (blocks or tables):
            picture = "document-like"
        labels = self.classifier.labels(image) if picture == "photo-like" else ()
        return Facts(
            width=image.width,
            height=image.height,
            orientation=orientation(image.width, image.height),
            kind=picture,
            text_blocks=blocks,
            tables=tables,
            labels=labels,
            text_turned=reading.rotation,
            colours=colours(image),
            faces=self.faces.count(image),
            nsfw=self.nsfw.score(image),
            seconds=time.perf_counter() - start,
        )


_shared: Perceiver | None = None
_shared_lock = threading.Lock()


def perceive(image: Image.Image) -> Facts:
    """Everything perception can say about one RGB image (blocking; run it in a thread)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Perceiver()
    return _shared.perceive(image)
