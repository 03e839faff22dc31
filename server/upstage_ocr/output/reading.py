"""Reading order from word boxes: lines, paragraphs and columns, for the md/docx/hOCR exports and the schemas.

Two views of a page's lines:
- `text_lines(page)`: the lines *as the engine wrote them* in `Page.text` (lines end with " \\n", words in
  text order). The schemas and search use it, so their lines match the text the API returned.
- `paragraphs(page)`: lines rebuilt from the boxes alone (words clustered by vertical overlap), read column
  by column where the page has text columns and cut between far-apart form fields (`engines.columns`), and
  grouped into paragraphs by vertical gaps larger than the page's typical line spacing. md, docx and hOCR
  use it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from ..engines.columns import GUTTER, blocks, field_breaks
from ..models import Page, Word

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
# Reading order: columns and rows, then paragraphs


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


def _segments(line: list[Word], unit: float) -> list[list[Word]]:
    """A line's words cut where a blank as wide as a column gutter separates them."""
    out: list[list[Word]] = []
    for w in line:
        if out and word_bbox(w)[0] - word_bbox(out[-1][-1])[2] >= GUTTER * unit:
            out.append([w])
        elif out:
            out[-1].append(w)
        else:
            out.append([w])
    return out


def reading_lines(words: Sequence[Word]) -> list[tuple[tuple[int, ...], list[Word]]]:
    """Lines in reading order, each with the block it belongs to: column by column where the page has
    columns, and a row cut where separate fields sit far apart (`engines.columns`, which orders the local
    engine's text the same way)."""
    items = [w for w in words if w.text.strip()]
    if not items:
        return []
    heights = [b[3] - b[1] for b in map(word_bbox, items) if b[3] > b[1]]
    unit = statistics.median(heights) if heights else 10.0
    segments = [seg for line in geometric_lines(items) for seg in _segments(line, unit)]
    out: list[tuple[tuple[int, ...], list[Word]]] = []
    for number, block in enumerate(blocks([union_bbox(seg) for seg in segments])):
        for line in geometric_lines([w for i in block for w in segments[i]]):
            parts = _segments(line, unit)
            cuts = [
                0,
                *field_breaks([union_bbox(p) for p in parts], [line_text(p) for p in parts]),
                len(parts),
            ]
            for a, b in pairwise(cuts):
                out.append(((number,), [w for p in parts[a:b] for w in p]))
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
