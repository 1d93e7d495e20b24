"""What perception knows about one image (`Facts`), and the text block a model without vision
weights reads in the image's place (`render`).

The block is made for 0.5B-1.5B text models: square-bracketed markers that say where the
image's facts begin and end and whose they are ("image 2"), one header line of plain
measurements, then the text found in the image -- exactly as read, in reading order, blocks
separated by a blank line, tables as `a | b | c` rows -- because text is what perception gets
right; a classifier label only when it passed its measured threshold, worded as a likelihood.
The NSFW score is never rendered: it is for the safety layer, and a model told "this image
may be explicit" tends to talk about that instead of the question.

    [image 1: 1000x700 landscape, document-like; main colours: white 96%; faces: 0]
    [text in image 1, in reading order]
    Invoice #12345
    Date: 2026-11-02
    [table in image 1]
    Item | Qty | Price
    Widget | 2 | 10.00
    Gadget | 1 | 22.50
    Total |  | 42.50
    [end of image 1]

A photo: `[image 2: 600x400 landscape, photo-like; main colours: brown 39%, dark red 22%,
black 15%, red 14%; faces: 0]`, `likely shows: espresso (0.95)`, `[no readable text in image
2]`, `[end of image 2]`. Text read from a turned image says so: `[text in image 1, in reading
order, read after turning it 180°]`.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[int, int, int, int]  # left, top, right, bottom in the original image's pixels


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    confidence: float  # the recognizer's, 0-1 (the lowest of the pieces joined into the line)
    box: Box


@dataclass(frozen=True, slots=True)
class TextBlock:
    lines: tuple[Line, ...]
    box: Box
    order: int  # position among blocks and tables together, in reading order


@dataclass(frozen=True, slots=True)
class Table:
    rows: tuple[tuple[str, ...], ...]  # every row has one cell per column ("" where empty)
    box: Box
    order: int


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    probability: float


@dataclass(frozen=True, slots=True)
class Colour:
    name: str
    share: float  # of the image's pixels, 0-1
    rgb: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Facts:
    width: int
    height: int
    orientation: str  # "landscape" | "portrait" | "square"
    kind: str  # "photo-like" | "document-like" | "graphic" | "grayscale"
    text_blocks: tuple[TextBlock, ...] = ()
    tables: tuple[Table, ...] = ()
    labels: tuple[Label, ...] = ()  # only those above classify.THRESHOLD
    colours: tuple[Colour, ...] = ()
    faces: int = 0
    text_turned: int = 0  # degrees the image was turned counter-clockwise to read its text
    # (0, 90, 180, 270); line boxes are in the turned image's pixels
    nsfw: float = 0.0  # open_nsfw's probability, for the safety layer; not rendered
    seconds: float = 0.0  # time perceive() took

    @property
    def text(self) -> str:
        """All text found, in reading order (table rows as `a | b` lines)."""
        parts = [_region_text(region) for region in self.regions]
        return "\n".join(p for p in parts if p)

    @property
    def regions(self) -> tuple[TextBlock | Table, ...]:
        return tuple(sorted((*self.text_blocks, *self.tables), key=lambda r: r.order))


def _region_text(region: TextBlock | Table) -> str:
    if isinstance(region, Table):
        return "\n".join(" | ".join(row) for row in region.rows)
    return "\n".join(line.text for line in region.lines)


def render(facts: Facts, index: int = 1) -> str:
    """The block that stands for image `index` (1-based) in a text-only prompt."""
    name = f"image {index}"
    head = [f"{facts.width}x{facts.height} {facts.orientation}, {facts.kind}"]
    if facts.colours:
        head.append(
            "main colours: " + ", ".join(f"{c.name} {round(c.share * 100)}%" for c in facts.colours)
        )
    head.append(f"faces: {facts.faces}")
    out = [f"[{name}: {'; '.join(head)}]"]
    if facts.labels:
        shows = ", ".join(f"{label.name} ({label.probability:.2f})" for label in facts.labels)
        out.append(f"likely shows: {shows}")
    kind = None
    for region in facts.regions:
        now = "table" if isinstance(region, Table) else "text"
        if now == "table":
            out.append(f"[table in {name}]")
        elif kind is None:
            turned = f", read after turning it {facts.text_turned}°" if facts.text_turned else ""
            out.append(f"[text in {name}, in reading order{turned}]")
        elif kind == "table":
            out.append(f"[text in {name}, continued]")
        else:
            out.append("")
        out.append(_region_text(region))
        kind = now
    if not facts.regions:
        out.append(f"[no readable text in {name}]")
    out.append(f"[end of {name}]")
    return "\n".join(out)
