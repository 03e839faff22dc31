"""Words in, lines out: the parse engine's view of a page's words (from OCR or a PDF text layer).

A `PageWord` is an axis-aligned pixel box with its text. `to_page_words` takes what the rest of the package
produces (`models.Word` from an OCR page, `models.RawWord` from an engine, or dicts in the Upstage word shape).
`group_lines` joins words into line segments: words that share a row and are not split by a gap wider than
the text is tall (a column gutter or a table cell boundary).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]

BULLET_RE = re.compile(r"^([•●○◦▪▫■□‣⁃∙·*✓➢►▶➤–—-])\s*(?=\S)")
NUMBER_RE = re.compile(r"^(\(?(\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)])\s+(?=\S)")
_MARKER_WORD = re.compile(r"^([•●○◦▪▫■□‣⁃∙·*✓➢►▶➤–—-]|\(?(\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)])$")


def marker(text: str) -> tuple[str, bool] | None:
    """(marker, ordered) if the line starts a list item: a bullet, or a number or letter with `.` or `)`."""
    m = BULLET_RE.match(text)
    if m:
        return m.group(1), False
    m = NUMBER_RE.match(text)
    if m:
        return m.group(1), True
    return None


@dataclass(frozen=True)
class PageWord:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class Line:
    """Words on one row of one column, left to right."""

    words: list[PageWord] = field(default_factory=list)

    @property
    def box(self) -> Box:
        return union_box((w.x0, w.y0, w.x1, w.y1) for w in self.words)

    @property
    def height(self) -> float:
        """The median height of its words (robust to one odd OCR box)."""
        return statistics.median(w.height for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def union_box(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    return (min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))


def _points_box(points: Sequence[Any]) -> Box:
    xs = [float(p["x"] if isinstance(p, dict) else p[0]) for p in points]
    ys = [float(p["y"] if isinstance(p, dict) else p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _one(word: Any) -> PageWord | None:
    if isinstance(word, PageWord):
        return word
    if hasattr(word, "bbox") and hasattr(word, "text"):  # models.Word
        x0, y0, x1, y1 = word.bbox()
        text = word.text
    elif hasattr(word, "points"):  # models.RawWord
        x0, y0, x1, y1 = _points_box(word.points)
        text = word.text
    elif isinstance(word, dict):  # the Upstage word shape
        box = word.get("boundingBox") or word.get("bounding_box") or {}
        x0, y0, x1, y1 = _points_box(box.get("vertices") or [])
        text = str(word.get("text", ""))
    else:
        raise TypeError(f"cannot read a word from {type(word).__name__}")
    text = text.strip()
    if not text or x1 <= x0 or y1 <= y0:
        return None
    return PageWord(text, float(x0), float(y0), float(x1), float(y1))


def to_page_words(words: Iterable[Any]) -> list[PageWord]:
    """Words of any supported shape as `PageWord`s; empty or degenerate words are dropped."""
    out = []
    for w in words:
        pw = _one(w)
        if pw is not None:
            out.append(pw)
    return out


def median_height(words: Sequence[PageWord], default: float = 20.0) -> float:
    return statistics.median(w.height for w in words) if words else default


def _rows(words: Sequence[PageWord]) -> list[list[PageWord]]:
    """Words clustered into rows: a word joins the row its vertical middle falls into."""
    rows: list[tuple[float, float, list[PageWord]]] = []
    for w in sorted(words, key=lambda w: (w.cy, w.x0)):
        for i, (top, bottom, members) in enumerate(rows):
            overlap = min(bottom, w.y1) - max(top, w.y0)
            if overlap >= 0.5 * min(bottom - top, w.height) and top <= w.cy <= bottom + 0.2 * w.height:
                members.append(w)
                rows[i] = (min(top, w.y0), max(bottom, w.y1), members)
                break
        else:
            rows.append((w.y0, w.y1, [w]))
    return [members for _, _, members in rows]


def group_lines(words: Sequence[PageWord], gap_factor: float = 0.75) -> list[Line]:
    """Line segments, top to bottom then left to right; a gap wider than `gap_factor` x height splits a row."""
    lines: list[Line] = []
    for row in _rows(words):
        row.sort(key=lambda w: w.x0)
        current = Line([row[0]])
        for w in row[1:]:
            prev = current.words[-1]
            h = max(current.height, w.height)
            lone_marker = len(current.words) == 1 and _MARKER_WORD.match(prev.text)
            if w.x0 - prev.x1 > (3.0 if lone_marker else gap_factor) * h:
                lines.append(current)
                current = Line([w])
            else:
                current.words.append(w)
        lines.append(current)
    lines.sort(key=lambda ln: (ln.box[1], ln.box[0]))
    return lines
