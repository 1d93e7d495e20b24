"""arrange() on hand-placed lines: reading order, blocks, tables (no OCR, instant)."""

from __future__ import annotations

from openmini.vision.perception.layout import arrange
from openmini.vision.perception.ocr import RawLine


def line(text: str, x: float, y: float, w: float | None = None, h: float = 20) -> RawLine:
    w = len(text) * 10 if w is None else w
    return RawLine(text, 0.99, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def texts(raw: list[RawLine]) -> list[list[str]]:
    blocks, _ = arrange(raw)
    return [[x.text for x in b.lines] for b in blocks]


def test_two_columns_with_a_title_read_left_then_right() -> None:
    raw = [line("A title that spans both of the two columns here", 0, 0, w=900)]
    raw += [line(f"left line number {k} of the text", 0, 50 + 30 * k) for k in range(5)]
    raw += [line(f"right line number {k} of the text", 500, 50 + 30 * k) for k in range(5)]
    order = texts(list(reversed(raw)))  # input order must not matter
    assert order[0] == ["A title that spans both of the two columns here"]
    assert order[1] == [f"left line number {k} of the text" for k in range(5)]
    assert order[2] == [f"right line number {k} of the text" for k in range(5)]


def test_paragraphs_split_on_a_wide_gap() -> None:
    raw = [line("one", 0, 0), line("two", 0, 25), line("three", 0, 120), line("four", 0, 145)]
    assert texts(raw) == [["one", "two"], ["three", "four"]]


def test_pieces_of_one_row_join_into_one_line() -> None:
    assert texts([line("Total", 0, 0), line("42.50", 400, 2)]) == [["Total  42.50"]]


def test_a_grid_is_a_table_with_empty_cells_kept() -> None:
    grid = [("Name", "Qty", "Price"), ("Apple", "3", "1.20"), ("Pear", "", "0.80")]
    raw = [line("Fruit order", 0, 0)]
    for r, row in enumerate(grid):
        raw += [line(cell, 200 * c, 60 + 35 * r) for c, cell in enumerate(row) if cell]
    blocks, tables = arrange(raw)
    (table,) = tables
    assert table.rows == (("Name", "Qty", "Price"), ("Apple", "3", "1.20"), ("Pear", "", "0.80"))
    assert [b.lines[0].text for b in blocks] == ["Fruit order"]
    assert (blocks[0].order, table.order) == (0, 1)
    assert table.box == (0, 60, 450, 150)


def test_side_by_side_prose_is_not_a_table() -> None:
    raw = [line(f"a long left-hand line of prose {k}", 0, 30 * k) for k in range(4)]
    raw += [line(f"a long right-hand line of prose {k}", 500, 30 * k) for k in range(4)]
    blocks, tables = arrange(raw)
    assert tables == () and len(blocks) == 2


def test_tilted_lines_are_deskewed() -> None:
    def tilted(text: str, x: float, y: float) -> RawLine:  # 5 degrees down to the right
        w, h, dy = 100.0, 20.0, 100 * 0.0875
        return RawLine(text, 0.9, ((x, y), (x + w, y + dy), (x + w, y + dy + h), (x, y + h)))

    raw = [tilted(t, 150 * c, 30 * r + 0.0875 * 150 * c)
           for r, row in enumerate([("a", "b", "c"), ("d", "e", "f"), ("g", "h", "i")])
           for c, t in enumerate(row)]
    _, tables = arrange(raw)
    assert tables[0].rows == (("a", "b", "c"), ("d", "e", "f"), ("g", "h", "i"))


def test_nothing_in_nothing_out() -> None:
    assert arrange([]) == ((), ())
