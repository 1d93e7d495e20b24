"""Image intake cost: a base64 data URL -> bytes -> `decode` -> `fit(..., "auto")`.

Two synthetic photo-like JPEGs (gradients, texture and sensor-like noise, quality 90): 2 Mpx
(1728x1152) and 12 Mpx (4032x3024, a phone photo). Each is taken twice: `decode(data)` (full
resolution, the identity perception uses) and `decode(data, detail="auto")` (a JPEG may be
decoded at a reduced DCT scale when the fit is far smaller: 12 Mpx -> 3 Mpx; 2 Mpx is too
close to its 1152x768 target to gain). Median and p90 of the whole, per-stage medians, and
the verdict on the goal: a 2-Mpx JPEG in <= 50 ms. One thread, like one image request.

    .venv/bin/python bench/vision_intake.py --runs 20
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import PIL
from PIL import Image as PILImage

from common import median, parser, pct, save, table, verdict
from openmini.vision.decode import Image, decode, fit
from openmini.vision.policy import ImageLimits

GOAL_MS = 50.0
SIZES = {"2 Mpx": (1728, 1152), "12 Mpx": (4032, 3024)}


def photo_jpeg(width: int, height: int, seed: int = 0) -> bytes:
    """Smooth light, some texture and noise: compresses (and decodes) like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 60 + 140 * (x / width) * (1 - 0.5 * y / height)
    texture = 40 * np.sin(x / 23 + 3 * np.sin(y / 71)) * np.cos(y / 37)
    rgb = np.stack([light + texture, light * 0.8 + 60 * (y / height), 90 - texture / 2], -1)
    rgb += rng.normal(0, 6, rgb.shape).astype(np.float32)
    buf = io.BytesIO()
    PILImage.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def one(url: str, decoder: Callable[[bytes], Image]) -> tuple[float, float, float, Any]:
    """Seconds spent in base64, decode, fit; and the fitted size."""
    t0 = time.perf_counter()
    data = base64.b64decode(url.split(",", 1)[1], validate=True)
    t1 = time.perf_counter()
    image = decoder(data)
    t2 = time.perf_counter()
    fitted = fit(image, "auto")
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, (image.width, image.height, *fitted.size)


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20, help="timed runs per case")
    p.set_defaults(model="pillow")  # no model here: names the results file
    a = p.parse_args()
    runs = 3 if a.quick else a.runs
    limits = ImageLimits()
    decoders: dict[str, Callable[[bytes], Image]] = {
        "decode()": lambda d: decode(d, limits),
        "decode(detail=auto)": lambda d: decode(d, limits, detail="auto"),
    }
    rows, results = [], {}
    for label, (w, h) in SIZES.items():
        jpeg = photo_jpeg(w, h)
        url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
        for name, decoder in decoders.items():
            one(url, decoder)  # warm-up
            samples = [one(url, decoder) for _ in range(runs)]
            total = [1e3 * (b + d + f) for b, d, f, _ in samples]
            stages = [median([1e3 * s[i] for s in samples]) for i in range(3)]
            dw, dh, fw, fh = samples[0][3]
            goal = verdict(median(total), GOAL_MS, False) if label == "2 Mpx" else "-"
            rows.append([label, name, f"{dw}x{dh}", f"{fw}x{fh}", *stages,
                         median(total), pct(total, 90), goal])
            results[f"{label} {name}"] = {"jpeg_bytes": len(jpeg), "total_ms": total,
                                          "median_ms": median(total), "p90_ms": pct(total, 90),
                                          "stage_median_ms": dict(zip(("base64", "decode", "fit"),
                                                                      stages, strict=True)),
                                          "decoded": [dw, dh], "fitted": [fw, fh]}
    table(f"data URL -> decode -> fit(auto), ms, {runs} runs (Pillow {PIL.__version__})",
          ["image", "decode as", "decoded", "fitted", "base64", "decode", "fit", "median",
           "p90", "2 Mpx goal"], rows)
    save("vision_intake", a, {"runs": runs, "goal_ms": GOAL_MS, "pillow": PIL.__version__,
                              "results": results})


if __name__ == "__main__":
    main()
