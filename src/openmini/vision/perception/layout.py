"""From OCR lines to a page: tables, reading order, blocks.

1. Rows: lines whose vertical extents overlap by half the smaller height.
2. Tables: runs of consecutive rows (gaps under `ROW_GAP` line heights) with two or more
   cells each, the cell count changing by at most one from row to row, whose cells fall into
   shared column bands (the union of the cells' x-extents);
   at least 3 rows (2 with 3+ columns); a two-band run is a table only if the cells of both
   bands are short (median at most `PROSE_CELL` characters): prose columns side by side, or
   line numbers beside code, are not.
3. Reading order, recursively (a variant of XY-cut that tolerates headings across columns): in
   a region, look for a vertical gutter at least one line height wide that few lines cross;
   lines crossing it (titles, rules across the page) split the region into horizontal bands,
   and within each band the left side is read before the right, each side recursively. A region
   without a gutter, whose two sides are short pieces paired row for row (a form), or one of
   whose sides lies wholly above the other, is read row by row, top to bottom, left to right.
4. Blocks: consecutive lines in reading order that touch horizontally, have similar heights
   and a vertical gap under `BLOCK_GAP` line heights; a table is a region of its own.

Pieces of one row in a gutterless region are joined into one line with two spaces ("Total" and
"42.50" far apart read "Total  42.50"). Measured: ~1 ms for 50 lines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from .facts import Box, Line, Table, TextBlock
from .ocr import RawLine

ROW_GAP = 2.0  # a table's rows are at most this many line heights apart
BLOCK_GAP = 0.9  # lines of one block are at most this many line heights apart
PROSE_CELL = 20  # characters: two columns of longer lines are prose, not a table
MAX_CROSSING = 0.2  # share of a region's lines that may cross a gutter


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity
class _Item:
    x0: float
    y0: float
    x1: float
    y1: float
    h: float  # text height (from the quad, so a tilted line is not counted taller)
    line: Line | None = None
    table: Table | None = None

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def box(self) -> Box:  # in the image's pixels
        return self.line.box if self.line else self.table.box if self.table else (0, 0, 0, 0)


def _skew(raw: Sequence[RawLine]) -> float:
    """The median slope (radians) of the lines' top edges, from lines at least 2:1 wide."""
    angles = [
        math.atan2(by - ay, bx - ax)
        for (ax, ay), (bx, by), _, (dx, dy) in (r.quad for r in raw)
        if math.hypot(bx - ax, by - ay) >= 2 * math.hypot(dx - ax, dy - ay)
    ]
    return median(angles) if angles else 0.0


def _item(raw: RawLine, skew: float) -> _Item:
    cos, sin = math.cos(-skew), math.sin(-skew)
    pts = [(x * cos - y * sin, x * sin + y * cos) for x, y in raw.quad]  # deskewed
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = raw.quad
    h = (math.hypot(dx - ax, dy - ay) + math.hypot(cx - bx, cy - by)) / 2
    xs, ys = [p[0] for p in raw.quad], [p[1] for p in raw.quad]
    box = (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))
    line = Line(raw.text, raw.confidence, box)
    return _Item(
        min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts),
        max(p[1] for p in pts), h=max(h, 1.0), line=line,
    )


def _box(items: Sequence[_Item]) -> Box:
    """The union of the items' boxes in the image's pixels."""
    boxes = [i.box for i in items]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _span(items: Sequence[_Item], **fields: Any) -> _Item:
    """An item covering `items` in layout coordinates."""
    return _Item(
        min(i.x0 for i in items), min(i.y0 for i in items),
        max(i.x1 for i in items), max(i.y1 for i in items), **fields,
    )


def _text(item: _Item) -> str:
    return item.line.text if item.line else ""


def _rows(items: Sequence[_Item]) -> list[list[_Item]]:
    rows: list[list[_Item]] = []
    for it in sorted(items, key=lambda i: i.cy):
        if rows:
            last = rows[-1]
            top, bottom = max(i.y0 for i in last), min(i.y1 for i in last)
            overlap = min(bottom, it.y1) - max(top, it.y0)
            if overlap >= 0.5 * min(it.y1 - it.y0, bottom - top):
                last.append(it)
                continue
        rows.append([it])
    return [sorted(row, key=lambda i: i.x0) for row in rows]


def _bands(rows: Sequence[Sequence[_Item]], pad: float) -> list[tuple[float, float]] | None:
    spans = sorted((i.x0 - pad, i.x1 + pad) for row in rows for i in row)
    bands: list[tuple[float, float]] = []
    for a, b in spans:
        if bands and a <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(b, bands[-1][1]))
        else:
            bands.append((a, b))
    for row in rows:  # each cell in a band of its own
        hit = [next(k for k, (a, b) in enumerate(bands) if a <= i.x0 and i.x1 <= b) for i in row]
        if len(set(hit)) != len(hit):
            return None
    return bands


def _is_table(rows: Sequence[Sequence[_Item]], bands: Sequence[tuple[float, float]]) -> bool:
    if len(bands) < 2 or len(rows) < (2 if len(bands) >= 3 else 3):
        return False
    return len(bands) >= 3 or max(_median_length(rows, band) for band in bands) <= PROSE_CELL


def _median_length(rows: Sequence[Sequence[_Item]], band: tuple[float, float]) -> float:
    lengths = [len(_text(i)) for row in rows for i in row if band[0] <= i.x0 and i.x1 <= band[1]]
    return median(lengths) if lengths else 0.0


def _table(rows: Sequence[Sequence[_Item]], bands: Sequence[tuple[float, float]],
           unit: float) -> _Item:
    cells = []
    for row in rows:
        out = [""] * len(bands)
        for i in row:
            k = next(k for k, (a, b) in enumerate(bands) if a <= i.x0 and i.x1 <= b)
            out[k] = _text(i)
        cells.append(tuple(out))
    cells_items = [i for row in rows for i in row]
    table = Table(tuple(cells), _box(cells_items), order=0)
    return _span(cells_items, h=unit, table=table)


def _find_tables(items: list[_Item], unit: float) -> list[_Item]:
    """`items` with the lines of each table replaced by one table item."""
    out: list[_Item] = []
    run: list[list[_Item]] = []
    run_bands: list[tuple[float, float]] | None = None

    def close() -> None:
        nonlocal run, run_bands
        if run and run_bands is not None and _is_table(run, run_bands):
            out.append(_table(run, run_bands, unit))
        else:
            out.extend(i for row in run for i in row)
        run, run_bands = [], None

    for row in _rows(items):
        near = run and row[0].cy - run[-1][0].cy <= (ROW_GAP + 1) * unit
        near = near and abs(len(row) - len(run[-1])) < 2  # key: value lines, then a grid
        bands = _bands([*run, row], 0.3 * unit) if len(row) >= 2 and near else None
        if bands is not None and len(bands) >= 2:
            run.append(row)
            run_bands = bands
            continue
        close()
        if len(row) >= 2:
            run, run_bands = [row], _bands([row], 0.3 * unit)
        else:
            out.extend(row)
    close()
    return out


def _gutter(items: Sequence[_Item], unit: float) -> tuple[float, float] | None:
    """The widest x-interval that at most MAX_CROSSING of the items cross."""
    edges = sorted({i.x0 for i in items} | {i.x1 for i in items})
    limit = int(MAX_CROSSING * len(items))
    runs: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        if sum(1 for i in items if i.x0 < mid < i.x1) > limit:
            continue
        if runs and runs[-1][1] == a:  # neighbouring sparse intervals make one gutter
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    runs = [r for r in runs if r[1] - r[0] >= unit]
    return max(runs, key=lambda r: r[1] - r[0]) if runs else None


def _split(
    items: Sequence[_Item], gutter: tuple[float, float]
) -> tuple[list[_Item], list[_Item], list[_Item]]:
    """The items crossing the gutter (top to bottom), those left of it, those right of it."""
    a, b = gutter
    crossing = sorted((i for i in items if i.x0 < a and i.x1 > b), key=lambda i: i.cy)
    rest = [i for i in items if not (i.x0 < a and i.x1 > b)]
    left = [i for i in rest if (i.x0 + i.x1) / 2 < (a + b) / 2]
    return crossing, left, [i for i in rest if (i.x0 + i.x1) / 2 >= (a + b) / 2]


def _paired(left: Sequence[_Item], right: Sequence[_Item]) -> bool:
    """Pieces side by side row for row, one side short (a form: "Total" ... "42.50"; line
    numbers beside code): rows, not columns."""
    if not left or not right:
        return False
    if min(median(len(_text(i)) for i in side) for side in (left, right)) > PROSE_CELL:
        return False
    small, other = sorted((left, right), key=len)
    rows = sum(any(min(i.y1, j.y1) - max(i.y0, j.y0) > 0.5 * min(i.h, j.h) for j in other)
               for i in small)
    return rows >= 0.7 * len(small)


def _stacked(left: Sequence[_Item], right: Sequence[_Item]) -> bool:
    """One side wholly above the other: read top to bottom, not as columns."""
    if not left or not right:
        return False
    top = min(max(i.y1 for i in left), max(i.y1 for i in right))
    bottom = max(min(i.y0 for i in left), min(i.y0 for i in right))
    return top - bottom < 0.5 * min(i.h for i in [*left, *right])


def _order(items: Sequence[_Item], unit: float) -> list[_Item]:
    gutter = _gutter(items, unit) if len(items) > 1 else None
    crossing, left, right = _split(items, gutter) if gutter else ([], [], [])
    if not (crossing or (left and right)) or _paired(left, right) or _stacked(left, right):
        tables = [i for i in items if i.table]
        rows = _rows([i for i in items if not i.table])
        return sorted([_join(row) for row in rows] + tables, key=lambda i: i.y0)
    out: list[_Item] = []
    top = float("-inf")
    for stop in [*crossing, None]:
        bottom = stop.cy if stop else float("inf")
        band_left = [i for i in left if top <= i.cy < bottom]
        band_right = [i for i in right if top <= i.cy < bottom]
        if _stacked(band_left, band_right):
            out += _order(band_left + band_right, unit)
        else:
            out += _order(band_left, unit) + _order(band_right, unit)
        if stop:
            out.append(stop)
            top = bottom
    return out


def _join(row: Sequence[_Item]) -> _Item:
    if len(row) == 1:
        return row[0]
    lines = [i.line for i in row if i.line]
    line = Line("  ".join(x.text for x in lines), min(x.confidence for x in lines), _box(row))
    return _span(row, h=max(i.h for i in row), line=line)


def _same_block(prev: _Item, it: _Item, unit: float) -> bool:
    gap = it.y0 - prev.y1
    touch = min(prev.x1, it.x1) - max(prev.x0, it.x0) > -unit
    similar = max(prev.h, it.h) <= 1.6 * min(prev.h, it.h)
    return touch and similar and -0.5 * unit <= gap <= BLOCK_GAP * max(prev.h, it.h)


def arrange(raw: Sequence[RawLine]) -> tuple[tuple[TextBlock, ...], tuple[Table, ...]]:
    """Blocks of lines and tables, each numbered (`order`) by its place in reading order."""
    if not raw:
        return (), ()
    skew = _skew(raw)
    items = [_item(r, skew if abs(skew) > math.radians(0.5) else 0.0) for r in raw]
    unit = median(i.h for i in items)
    ordered = _order(_find_tables(items, unit), unit)
    blocks: list[TextBlock] = []
    tables: list[Table] = []
    current: list[_Item] = []

    def flush() -> None:
        if current:
            lines = tuple(i.line for i in current if i.line)
            blocks.append(TextBlock(lines, _box(current), len(blocks) + len(tables)))
            current.clear()

    for it in ordered:
        if it.table:
            flush()
            t = it.table
            tables.append(Table(t.rows, t.box, len(blocks) + len(tables)))
        elif current and not _same_block(current[-1], it, unit):
            flush()
            current.append(it)
        else:
            current.append(it)
    flush()
    return tuple(blocks), tuple(tables)
