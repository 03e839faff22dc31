"""Reading order from word boxes: lines, paragraphs and columns, for the md/docx/hOCR exports and the schemas.

Two views of a page's lines:
- `text_lines(page)`: the lines *as the engine wrote them* in `Page.text` (lines end with " \\n", words in
  text order). The schemas and search use it, so their lines match the text the API returned.
- `paragraphs(page)`: lines rebuilt from the boxes alone (words clustered by vertical overlap), ordered by a
  recursive XY cut that reads a real two-column layout column by column, and grouped into paragraphs by
  vertical gaps larger than the page's typical line spacing. md, docx and hOCR use it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .models import Page, Word

BBox = tuple[float, float, float, float]


def word_bbox(word: Word) -> BBox:
    x0, y0, x1, y1 = word.bbox()
    return (float(x0), float(y0), float(x1), float(y1))


def union_bbox(words: Sequence[Word]) -> BBox:
    """The smallest axis-aligned box around `words` (0,0,0,0 for none)."""
    if not words:
        return (0.0, 0.0, 0.0, 0.0)
    boxes = [word_bbox(w) for w in words]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def line_text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words if w.text)


# --------------------------------------------------------------------------------------------------
# Lines as written in Page.text


def text_lines(page: Page) -> list[list[Word]]:
    """The page's words grouped by the lines of `Page.text` (words appear in text order).

    Each word is looked up at the current position of the current text line; a word that is not there moves
    to the next line. If the text does not describe the words (empty, or most words not found), the lines are
    rebuilt from the boxes instead.
    """
    words = [w for w in page.words]
    if not words:
        return []
    raw_lines = [ln.strip() for ln in page.text.split("\n")] if page.text else []
    raw_lines = [ln for ln in raw_lines if ln]
    if not raw_lines:
        return geometric_lines(words)
    out: list[list[Word]] = [[] for _ in raw_lines]
    li, pos, found = 0, 0, 0
    for w in words:
        token = w.text.strip()
        if token:
            hit: tuple[int, int] | None = None
            rest = raw_lines[li][pos:]
            idx = rest.find(token)
            if 0 <= idx <= 3:
                hit = (li, pos + idx + len(token))
            else:
                for lj in (li + 1, li + 2):
                    if lj < len(raw_lines):
                        idx = raw_lines[lj].find(token)
                        if 0 <= idx <= 3:
                            hit = (lj, idx + len(token))
                            break
            if hit is not None:
                li, pos = hit
                found += 1
        out[li].append(w)
    if found < max(1, len([w for w in words if w.text.strip()])) * 0.5:
        return geometric_lines(words)
    return [line for line in out if line]


# --------------------------------------------------------------------------------------------------
# Lines from geometry


@dataclass
class _Line:
    words: list[Word] = field(default_factory=list)
    y0: float = 0.0
    y1: float = 0.0

    def add(self, w: Word, box: BBox) -> None:
        if not self.words:
            self.y0, self.y1 = box[1], box[3]
        else:
            self.y0, self.y1 = min(self.y0, box[1]), max(self.y1, box[3])
        self.words.append(w)


def geometric_lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words clustered into lines by vertical overlap, lines top to bottom, words left to right."""
    items = [(w, word_bbox(w)) for w in words]
    items.sort(key=lambda it: ((it[1][1] + it[1][3]) / 2, it[1][0]))
    lines: list[_Line] = []
    for w, box in items:
        h = max(box[3] - box[1], 1.0)
        best, best_overlap = None, 0.0
        for line in lines[-4:]:  # only recent lines can still overlap (sorted by centre)
            overlap = min(line.y1, box[3]) - max(line.y0, box[1])
            lh = max(line.y1 - line.y0, 1.0)
            if overlap >= 0.5 * min(h, lh) and overlap > best_overlap:
                best, best_overlap = line, overlap
        if best is None:
            best = _Line()
            lines.append(best)
        best.add(w, box)
    lines.sort(key=lambda ln: (ln.y0 + ln.y1) / 2)
    return [sorted(ln.words, key=lambda w: word_bbox(w)[0]) for ln in lines]


# --------------------------------------------------------------------------------------------------
# Reading order: XY cut into columns and rows, then paragraphs


@dataclass
class Paragraph:
    lines: list[list[Word]]
    column: tuple[int, ...] = ()

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line]

    @property
    def bbox(self) -> BBox:
        return union_bbox(self.words)

    @property
    def text(self) -> str:
        return "\n".join(line_text(line) for line in self.lines)


def _gaps(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Uncovered stretches between the union of `intervals` (sorted), as (start, end)."""
    intervals = sorted(intervals)
    out: list[tuple[float, float]] = []
    reach = intervals[0][1]
    for a, b in intervals[1:]:
        if a > reach:
            out.append((reach, a))
        reach = max(reach, b)
    return out


def _line_count(boxes: list[BBox]) -> int:
    return len(_gaps([(b[1], b[3]) for b in boxes])) + 1 if boxes else 0


def _cut(
    items: list[tuple[Word, BBox]],
    path: tuple[int, ...],
    unit: float,
    out: list[tuple[tuple[int, ...], list]],
) -> None:
    if len(items) <= 1:
        if items:
            out.append((path, items))
        return
    x0 = min(b[0] for _, b in items)
    x1 = max(b[2] for _, b in items)
    width = max(x1 - x0, 1.0)
    ygaps = _gaps([(b[1], b[3]) for _, b in items])
    best_y = max(ygaps, key=lambda g: g[1] - g[0]) if ygaps else None
    ygap = (best_y[1] - best_y[0]) if best_y else 0.0
    # a column gutter: an uncovered vertical stretch, wide enough, with real columns on both sides
    best_x = None
    for a, b in _gaps([(bx[0], bx[2]) for _, bx in items]):
        if b - a < 1.2 * unit:
            continue
        if (a - x0) < 0.3 * width or (x1 - b) < 0.3 * width:
            continue
        left = [bx for _, bx in items if bx[2] <= a]
        right = [bx for _, bx in items if bx[2] > a]
        # both sides must be columns of several lines, not the two halves of a table row
        if _line_count(left) < 3 or _line_count(right) < 3:
            continue
        if best_x is None or (b - a) > (best_x[1] - best_x[0]):
            best_x = (a, b)
    if best_x is not None and (best_x[1] - best_x[0]) > ygap:
        mid = (best_x[0] + best_x[1]) / 2
        _cut([it for it in items if it[1][2] <= mid], (*path, 0), unit, out)
        _cut([it for it in items if it[1][2] > mid], (*path, 1), unit, out)
        return
    if best_y is not None:
        mid = (best_y[0] + best_y[1]) / 2
        _cut([it for it in items if it[1][3] <= mid], path, unit, out)
        _cut([it for it in items if it[1][3] > mid], path, unit, out)
        return
    out.append((path, items))


def reading_lines(words: Sequence[Word]) -> list[tuple[tuple[int, ...], list[Word]]]:
    """Lines in reading order, each with the column path it belongs to (XY cut over the boxes)."""
    items = [(w, word_bbox(w)) for w in words if w.text.strip()]
    if not items:
        return []
    heights = [b[3] - b[1] for _, b in items if b[3] > b[1]]
    unit = statistics.median(heights) if heights else 10.0
    blocks: list[tuple[tuple[int, ...], list[tuple[Word, BBox]]]] = []
    _cut(items, (), unit, blocks)
    out: list[tuple[tuple[int, ...], list[Word]]] = []
    for path, block in blocks:
        for line in geometric_lines([w for w, _ in block]):
            out.append((path, line))
    return out


def paragraphs(page: Page) -> list[Paragraph]:
    """The page's words as paragraphs of lines, in reading order (columns left to right)."""
    lines = reading_lines(page.words)
    if not lines:
        return []
    boxes = [union_bbox(line) for _, line in lines]
    heights = [b[3] - b[1] for b in boxes if b[3] > b[1]]
    unit = statistics.median(heights) if heights else 10.0
    gaps = [
        boxes[i + 1][1] - boxes[i][3]
        for i in range(len(lines) - 1)
        if lines[i][0] == lines[i + 1][0] and boxes[i + 1][1] - boxes[i][3] >= 0
    ]
    typical = statistics.median(gaps) if gaps else 0.3 * unit
    threshold = max(1.6 * typical, typical + 0.5 * unit)
    out: list[Paragraph] = []
    for i, (path, line) in enumerate(lines):
        if i == 0:
            out.append(Paragraph([line], path))
            continue
        prev_path, prev_box, box = lines[i - 1][0], boxes[i - 1], boxes[i]
        gap = box[1] - prev_box[3]
        new = path != prev_path or gap > threshold or box[3] < prev_box[1]
        if new:
            out.append(Paragraph([line], path))
        else:
            out[-1].lines.append(line)
    return out
