"""Reading order across columns, and form fields kept apart: pure geometry on line boxes.

A column gutter is a blank at least GUTTER line heights wide between a line and its right-hand neighbour on
the same row, at one x for several rows. Lines crossing that x (a title, a wide paragraph, a footer) cut the
page into regions; a region whose two sides are both text columns (at least MIN_COLUMN_ROWS lines each, of a
median width of MIN_COLUMN_WIDTH line heights) is read column by column, each side looked at again the same
way (three columns, columns within a column); everything else is read as rows. A receipt's narrow amount
column or a form's short values are no text column, so a receipt's rows stay rows (`Latte Macchiato 9.00`).
Found per line box, not per band of rows, so a slightly rotated page (its rows slanting into each other) is
read the same way.

Within a row, two boxes far apart (FIELD_GAP line heights) are separate lines when the right one holds words
(`Name: Anna Meier` ... `Date: 14.03.2025`); a figure far to the right stays on its label's line (`Total 54.50`),
and so does a value after a label ending in a colon.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

GUTTER = 1.0  # a column gutter is at least this many line heights wide
MIN_COLUMN_ROWS = 3  # each column holds at least this many rows
MIN_COLUMN_WIDTH = 6.0  # ... of lines this many line heights wide (median), so narrow figure columns are none
FIELD_GAP = 2.5  # boxes of one row this many line heights apart are separate fields (lines)

_WORDY = re.compile(r"[^\W\d_]{2,}")  # two letters of any script in a row


def _unit(boxes: Sequence[Box]) -> float:
    heights = [b[3] - b[1] for b in boxes if b[3] > b[1]]
    return statistics.median(heights) if heights else 10.0


def _uncovered(spans: Sequence[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """The stretches of [lo, hi] that no span covers."""
    out: list[tuple[float, float]] = []
    reach = lo
    for a, b in sorted(spans):
        if a > reach:
            out.append((reach, a))
        reach = max(reach, b)
    if reach < hi:
        out.append((reach, hi))
    return out


def _is_column(idx: list[int], boxes: Sequence[Box], unit: float) -> bool:
    if len(idx) < MIN_COLUMN_ROWS:
        return False
    return statistics.median(boxes[i][2] - boxes[i][0] for i in idx) >= MIN_COLUMN_WIDTH * unit


def _same_row(a: Box, b: Box) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1])


def _gutter(idx: list[int], boxes: Sequence[Box], unit: float) -> float | None:
    """An x lying in the wide blank between a line and its right-hand neighbour on the same row, for the
    most such pairs (at least MIN_COLUMN_ROWS); None when there is none."""
    gaps: list[tuple[float, float]] = []
    for i in idx:
        right = [boxes[j][0] for j in idx if boxes[j][0] > boxes[i][2] and _same_row(boxes[i], boxes[j])]
        if right and min(right) - boxes[i][2] >= GUTTER * unit:
            gaps.append((boxes[i][2], min(right)))
    best, best_count = None, MIN_COLUMN_ROWS - 1
    for x in sorted({(a + b) / 2 for a, b in gaps}):
        count = sum(a < x < b for a, b in gaps)
        if count > best_count:
            best, best_count = x, count
    if best is None:
        return None
    # the middle of the blank those gaps share: a line reaching a little further into the gutter than the
    # others (a long last line of the left column) does not cross it
    shared = [(a, b) for a, b in gaps if a < best < b]
    return (max(a for a, _ in shared) + min(b for _, b in shared)) / 2


def blocks(boxes: Sequence[Box]) -> list[list[int]]:
    """Indices of `boxes` grouped into blocks in reading order: the columns of a region of columns left to
    right, regions top to bottom. Within a block the caller orders rows (top to bottom, left to right)."""
    if not boxes:
        return []
    out: list[list[int]] = []
    _order(list(range(len(boxes))), boxes, _unit(boxes), out, depth=0)
    return [b for b in out if b]


def _order(idx: list[int], boxes: Sequence[Box], unit: float, out: list[list[int]], depth: int) -> None:
    x = _gutter(idx, boxes, unit) if depth < 4 and len(idx) >= 2 * MIN_COLUMN_ROWS else None
    if x is None:
        out.append(idx)
        return
    # lines crossing the gutter (a title, a wide paragraph) split the page into regions, top to bottom;
    # consecutive regions that are not columns stay one block (rows)
    plain: list[int] = []
    segment: list[int] = []
    for i in [*sorted(idx, key=lambda i: boxes[i][1]), None]:
        if i is not None and not boxes[i][0] < x < boxes[i][2]:
            segment.append(i)
            continue
        left = [k for k in segment if (boxes[k][0] + boxes[k][2]) / 2 < x]
        right = [k for k in segment if (boxes[k][0] + boxes[k][2]) / 2 >= x]
        if _is_column(left, boxes, unit) and _is_column(right, boxes, unit):
            out.append(plain)
            _order(left, boxes, unit, out, depth + 1)
            _order(right, boxes, unit, out, depth + 1)
            plain = []
        else:
            plain += segment
        segment = []
        if i is not None:
            plain.append(i)
    out.append(plain)


def field_breaks(boxes: Sequence[Box], texts: Sequence[str]) -> list[int]:
    """Positions (1..n-1) in a row of boxes, left to right, where a new line starts: a wide gap before a box
    holding words, unless the box before it is a label ending in a colon."""
    if len(boxes) < 2:
        return []
    unit = _unit(boxes)
    breaks = []
    for k in range(1, len(boxes)):
        gap = boxes[k][0] - boxes[k - 1][2]
        if gap >= FIELD_GAP * unit and _WORDY.search(texts[k]) and not texts[k - 1].rstrip().endswith(":"):
            breaks.append(k)
    return breaks
