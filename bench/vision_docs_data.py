"""Document images with questions for bench/vision_docs.py, drawn with Pillow from a seed.

`cases(seed)` gives 54 cases, 9 of each kind: invoice, receipt, form (label: value fields),
sign (shop hours, street signs), code (an editor screenshot: monospace, coloured tokens,
sometimes line numbers), table (a grid). Each is drawn at a kind-dependent width between
600 and 1800 px, in one of four font families ("default": Pillow's bundled font, always
there; "sans", "serif", "mono": DejaVu where /usr/share/fonts/truetype/dejavu has it, else
Pillow's font again, recorded in `Case.font`), then turned (0, +-3, +-8 degrees; one receipt
by 90) and degraded (none; Gaussian noise sigma 10; JPEG quality 35; Gaussian blur radius 1).

The case list -- ids, kinds, widths, families, rotations, noise, ground-truth text,
questions, answers -- depends on the seed alone; the pixels also on the fonts found, so two
calls on one machine give the same pixels. `Case.text` is what was printed, in reading order
(one line per printed row, a row's cells joined by a space; code keeps its indentation).
Every answer is printed verbatim; `matches` is the lenient comparison the bench uses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from vision_docs_kinds import Drawn, Question, font_used, form, invoice, receipt
from vision_docs_screens import code, grid_table, sign

__all__ = ["KINDS", "Case", "Question", "cases", "digest", "matches", "normalise",
           "png_data_url"]

Render = Callable[[random.Random, int, str], Drawn]
KINDS: dict[str, Render] = {"invoice": invoice, "receipt": receipt, "form": form, "sign": sign,
                            "code": code, "table": grid_table}
PER_KIND = 9
WIDTHS = {"invoice": (800, 1000, 1200, 1500, 1800), "receipt": (600, 640, 720, 800, 900),
          "form": (700, 900, 1100, 1400, 1800), "sign": (600, 800, 1000, 1200, 1500),
          "code": (900, 1100, 1300, 1600, 1800), "table": (600, 800, 1000, 1300, 1600)}
FAMILIES = ("default", "sans", "serif", "mono")
CODE_FAMILIES = ("mono", "mono", "default")
ROTATIONS = (0, 3, 0, -3, 8, 0, -8, 3, 0)
NINETY = ("receipt", 5)  # the one page photographed sideways
NOISES = ("none", "gauss", "jpeg35", "blur")


@dataclass(slots=True)
class Case:
    id: str
    kind: str
    image: Image.Image
    text: str
    questions: list[Question]
    width: int = 0
    family: str = "default"
    font: str = "pillow-default"  # the file actually used for `family` on this machine
    rotation: int = 0
    noise: str = "none"


def cases(seed: int = 0) -> list[Case]:
    out = []
    for k, (kind, render) in enumerate(KINDS.items()):
        for i in range(PER_KIND):
            widths = WIDTHS[kind]
            width = widths[(i + k) % len(widths)]
            family = (CODE_FAMILIES[i % 3] if kind == "code"
                      else FAMILIES[(i + k) % len(FAMILIES)])
            rotation = 90 if (kind, i) == NINETY else ROTATIONS[(i + 2 * k) % len(ROTATIONS)]
            noise = NOISES[(i + k) % len(NOISES)]
            drawn = render(random.Random(f"{seed}:{kind}:{i}"), width, family)
            image = degrade(drawn.image, rotation, noise, np.random.default_rng([seed, k, i]))
            out.append(Case(f"{kind}-{i:02d}", kind, image, drawn.text, drawn.questions,
                            width, family, font_used(family), rotation, noise))
    return out


def degrade(image: Image.Image, rotation: int, noise: str, rng: np.random.Generator
            ) -> Image.Image:
    if rotation:
        corner = image.getpixel((0, 0))
        image = image.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True,
                             fillcolor=corner)
    if noise == "gauss":
        pixels = np.asarray(image, dtype=np.float32)
        noisy = pixels + rng.normal(0.0, 10.0, pixels.shape)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    elif noise == "jpeg35":
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=35)
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    elif noise == "blur":
        image = image.filter(ImageFilter.GaussianBlur(1.0))
    return image


def png_data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def digest(image: Image.Image) -> str:
    return hashlib.sha256(image.mode.encode() + repr(image.size).encode()
                          + image.tobytes()).hexdigest()


# --- answers ------------------------------------------------------------------------------

_SAME = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                       "\u2013": "-", "\u2014": "-", "\u2212": "-"})


def normalise(text: str) -> str:
    """Lower case; no currency signs, thousands commas, or spaces (but one between two
    digits: "16 5" is no "165"); "09:00" as "9:00"."""
    text = text.translate(_SAME).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(?<!\d)0(\d:\d\d)", r"\1", text)
    text = re.sub(r"\s+", " ", re.sub(r"[$€£]", "", text))
    return re.sub(r"(?<!\d) | (?!\d)", "", text)  # a space stays only between two digits


def matches(reply: str, answers: tuple[str, ...] | list[str]) -> bool:
    """Whether the reply holds one of the answers, normalised, and not inside a longer
    number ("42.50" is not in "142.50" nor in "42.505")."""
    got = normalise(reply)
    for answer in answers:
        want = normalise(answer)
        for m in re.finditer(re.escape(want), got):
            if want[0].isdigit() and m.start() and got[m.start() - 1].isdigit():
                continue
            if want[-1].isdigit() and m.end() < len(got) and got[m.end()].isdigit():
                continue
            return True
    return False
