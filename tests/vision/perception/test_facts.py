"""render() on hand-built Facts."""

from __future__ import annotations

from openmini.vision.perception import Colour, Facts, Label, Line, Table, TextBlock, render

BOX = (0, 0, 10, 10)


def test_labels_and_colours_render_as_likelihoods_and_shares() -> None:
    facts = Facts(
        640, 480, "landscape", "photo-like", labels=(Label("tabby cat", 0.82),),
        colours=(Colour("brown", 0.613, (120, 80, 40)), Colour("grey", 0.28, (128, 128, 128))),
        faces=0, nsfw=0.97,
    )
    assert render(facts, 3).splitlines() == [
        "[image 3: 640x480 landscape, photo-like; main colours: brown 61%, grey 28%; faces: 0]",
        "likely shows: tabby cat (0.82)",
        "[no readable text in image 3]",
        "[end of image 3]",
    ]


def test_text_around_a_table_keeps_its_order() -> None:
    facts = Facts(
        800, 800, "square", "document-like",
        text_blocks=(
            TextBlock((Line("Heading", 0.99, BOX),), BOX, 0),
            TextBlock((Line("After the table", 0.99, BOX), Line("second", 0.9, BOX)), BOX, 2),
        ),
        tables=(Table((("a", "b"), ("1", "2")), BOX, 1),),
        text_turned=180,
    )
    assert render(facts).splitlines()[1:] == [
        "[text in image 1, in reading order, read after turning it 180°]",
        "Heading",
        "[table in image 1]",
        "a | b",
        "1 | 2",
        "[text in image 1, continued]",
        "After the table",
        "second",
        "[end of image 1]",
    ]
    assert facts.text == "Heading\na | b\n1 | 2\nAfter the table\nsecond"
