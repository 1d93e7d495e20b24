"""perceive() end to end on rendered images, with the real bundled models."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from openmini.vision.perception import THRESHOLD, Facts, Perceiver, render

from .conftest import LEFT, RIGHT, invoice, two_columns


def test_reads_the_invoice_exactly(invoice_facts: Facts) -> None:
    lines = [line.text for block in invoice_facts.text_blocks for line in block.lines]
    assert lines[:2] == ["Invoice #12345", "Date: 2026-11-02"]
    assert all(line.confidence > 0.9 for b in invoice_facts.text_blocks for line in b.lines)
    assert "42.50" in invoice_facts.text


def test_finds_the_table_with_its_rows(invoice_facts: Facts) -> None:
    (table,) = invoice_facts.tables
    assert table.rows == (
        ("Item", "Qty", "Price"), ("Widget", "2", "10.00"), ("Gadget", "1", "22.50"),
        ("Total", "", "42.50"),
    )
    assert [type(r).__name__ for r in invoice_facts.regions] == ["TextBlock", "Table"]


def test_reads_two_columns_in_order(perceiver: Perceiver) -> None:
    facts = perceiver.perceive(two_columns())
    lines = [line.text for block in facts.text_blocks for line in block.lines]
    assert lines[0] == "Quarterly Report: Northern Region"
    assert lines[1:9] == LEFT + RIGHT
    assert lines[-1].startswith("Footer text")
    assert not facts.tables
    assert [len(b.lines) for b in facts.text_blocks] == [1, 4, 4, 1]


def test_turned_and_noisy_invoices_still_read(perceiver: Perceiver) -> None:
    page = invoice()
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 40, (page.height, page.width, 3))
    noisy = Image.fromarray(np.clip(np.asarray(page) + noise, 0, 255).astype(np.uint8))
    variants = {
        "upside down": page.rotate(180),
        "tilted 7 degrees": page.rotate(7, expand=True, fillcolor="white"),
        "noisy and blurred": noisy.filter(ImageFilter.GaussianBlur(1)),
    }
    for name, image in variants.items():
        facts = perceiver.perceive(image)
        assert "Invoice #12345" in facts.text and "42.50" in facts.text, name
        assert facts.text_turned == (180 if name == "upside down" else 0), name


def test_a_document_has_no_faces_no_labels_and_is_safe(invoice_facts: Facts) -> None:
    assert invoice_facts.faces == 0
    assert invoice_facts.nsfw < 0.1
    assert invoice_facts.labels == ()
    assert invoice_facts.kind == "document-like"
    assert (invoice_facts.width, invoice_facts.height) == (1000, 700)
    assert invoice_facts.orientation == "landscape"


def test_render_puts_size_text_and_table_in_a_delimited_block(invoice_facts: Facts) -> None:
    block = render(invoice_facts, 2)
    lines = block.splitlines()
    assert lines[0].startswith("[image 2: 1000x700 landscape, document-like;")
    assert "faces: 0" in lines[0] and "white" in lines[0]
    assert lines[1] == "[text in image 2, in reading order]"
    assert lines[2:4] == ["Invoice #12345", "Date: 2026-11-02"]
    assert "[table in image 2]" in lines
    assert "Item | Qty | Price" in lines and "Total |  | 42.50" in lines
    assert lines[-1] == "[end of image 2]"
    assert "nsfw" not in block.lower() and "likely shows" not in block


def test_labels_absent_when_the_classifier_is_unsure(perceiver: Perceiver) -> None:
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    top = perceiver.classifier.top(noise)
    assert top[0].probability < THRESHOLD
    assert perceiver.classifier.labels(noise) == ()
    facts = perceiver.perceive(noise)
    assert facts.kind == "photo-like" and facts.labels == ()
    assert "likely shows" not in render(facts)
    probs = perceiver.classifier.probabilities(noise)
    assert probs.shape == (1000,) and abs(float(probs.sum()) - 1) < 1e-4 and probs.min() >= 0
