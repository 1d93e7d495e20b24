"""Images rendered here with Pillow, and one Perceiver (real models) for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from openmini.vision.perception import Facts, Perceiver

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU.is_file():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)  # scalable since Pillow 10.1


def invoice() -> Image.Image:
    """A 1000x700 invoice: a title, a date, and a 4x3 table."""
    im = Image.new("RGB", (1000, 700), "white")
    d = ImageDraw.Draw(im)
    d.text((60, 40), "Invoice #12345", font=font(44), fill="black")
    d.text((60, 110), "Date: 2026-11-02", font=font(26), fill="black")
    rows = [("Item", "Qty", "Price"), ("Widget", "2", "10.00"), ("Gadget", "1", "22.50"),
            ("Total", "", "42.50")]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            d.text((60 + c * 250, 220 + r * 60), cell, font=font(28), fill="black")
    return im


LEFT = ["The first column begins here and", "it continues with a second line",
        "then a third line of the left", "column ends the paragraph."]
RIGHT = ["Right column starts after left", "and this is its second line of",
         "text followed by another line", "which closes the right column."]


def two_columns() -> Image.Image:
    """A title across the page, two columns whose lines sit side by side, a footer."""
    im = Image.new("RGB", (1200, 520), "white")
    d = ImageDraw.Draw(im)
    d.text((60, 30), "Quarterly Report: Northern Region", font=font(40), fill="black")
    for k, (a, b) in enumerate(zip(LEFT, RIGHT, strict=True)):
        d.text((60, 120 + k * 40), a, font=font(26), fill="black")
        d.text((640, 120 + k * 40), b, font=font(26), fill="black")
    d.text((60, 330), "Footer text across the whole page, signed by the author",
           font=font(26), fill="black")
    return im


@pytest.fixture(scope="session")
def perceiver() -> Perceiver:
    return Perceiver()


@pytest.fixture(scope="session")
def invoice_facts(perceiver: Perceiver) -> Facts:
    return perceiver.perceive(invoice())
