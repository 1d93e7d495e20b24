"""Colours, orientation, kind and faces on images drawn here (no OCR involved)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from openmini.vision.perception.scene import FaceCounter, colours, kind, orientation

from .conftest import invoice


def test_colours_of_a_two_colour_image() -> None:
    im = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((0, 0, 119, 299), fill=(20, 30, 110))  # 30% dark blue
    found = colours(im)
    assert [c.name for c in found] == ["white", "dark blue"]
    assert abs(found[0].share - 0.7) < 0.03 and abs(found[1].share - 0.3) < 0.03


def test_small_patches_are_not_main_colours() -> None:
    im = Image.new("RGB", (400, 400), (200, 30, 30))
    ImageDraw.Draw(im).rectangle((0, 0, 39, 39), fill=(40, 160, 40))  # 1%
    assert [c.name for c in colours(im)] == ["red"]


def test_orientation() -> None:
    assert orientation(1200, 800) == "landscape"
    assert orientation(800, 1200) == "portrait"
    assert orientation(1000, 980) == "square"


def test_kind() -> None:
    rng = np.random.default_rng(0)
    assert kind(invoice()) == "grayscale"
    assert kind(Image.new("RGB", (300, 200), (200, 30, 30))) == "graphic"
    smooth = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    photo = Image.fromarray(smooth).resize((320, 240), Image.Resampling.BICUBIC)
    assert kind(photo) == "photo-like"


def test_no_faces_on_a_document_or_a_flat_image() -> None:
    counter = FaceCounter()
    assert counter.count(invoice()) == 0
    assert counter.count(Image.new("RGB", (64, 64), "gray")) == 0
