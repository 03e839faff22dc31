"""Lines into blocks, blocks into categories.

Lines join a block when they follow each other at line spacing, overlap horizontally and share a type size. A
bulleted or numbered line starts a list; a list's unmarked lines are its items' continuations. Categories come
from position (header, footer), wording (caption), type size (heading1) and markers (list).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .tables import Table
from .words import Box, Line, marker, union_box

CAPTION_RE = re.compile(
    r"^(figure|fig\.|table|chart|graph|exhibit|image|그림|표|도표|사진)\s*[\dIVX]+", re.IGNORECASE
)


@dataclass
class Region:
    """A laid-out piece of a page before it becomes an `Element`."""

    category: str
    box: Box
    lines: list[Line] = field(default_factory=list)
    table: Table | None = None
    items: list[str] = field(default_factory=list)  # list items, markers stripped
    ordered: bool = False
    font_px: int = 0
    alt: str = ""  # words inside a figure


def _x_overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0]))


def _joins(block: list[Line], line: Line) -> bool:
    last = block[-1]
    lb, nb = last.box, line.box
    h = max(last.height, line.height)
    gap = nb[1] - lb[3]
    if gap > 0.9 * h or gap < -0.5 * h:
        return False
    if len(block) >= 2 and gap > (lb[1] - block[-2].box[3]) + 0.4 * h:  # wider than the block's own spacing
        return False
    size = statistics.median(ln.height for ln in block)
    if max(size, line.height) > 1.3 * min(size, line.height):
        return False
    if _x_overlap(lb, nb) < 0.3 * min(lb[2] - lb[0], nb[2] - nb[0]):
        return False
    head = marker(block[0].text)
    if marker(line.text):
        return head is not None
    if head is not None:  # an unmarked line continues a list item only if indented past the marker
        return nb[0] > block[0].box[0] + 0.4 * h
    return True


def build_blocks(lines: Sequence[Line]) -> list[list[Line]]:
    blocks: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1], ln.box[0])):
        for block in reversed(blocks[-8:]):
            if _joins(block, line):
                block.append(line)
                break
        else:
            blocks.append([line])
    return blocks


def _list_items(block: Sequence[Line]) -> tuple[list[str], bool]:
    items: list[str] = []
    ordered = False
    for ln in block:
        mk = marker(ln.text)
        if mk:
            ordered = mk[1]
            items.append(ln.text[len(mk[0]) :].strip())
        elif items:
            items[-1] += " " + ln.text
        else:
            items.append(ln.text)
    return items, ordered


def classify(block: list[Line], body_h: float, page_h: float) -> Region:
    box = union_box(ln.box for ln in block)
    h = statistics.median(ln.height for ln in block)
    text = " ".join(ln.text for ln in block)
    region = Region("paragraph", box, list(block), font_px=round(h))
    small = h <= 1.15 * body_h
    if box[3] <= 0.08 * page_h and small and len(block) <= 2:
        region.category = "header"
    elif box[1] >= 0.92 * page_h and small and len(block) <= 2:
        region.category = "footer"
    elif CAPTION_RE.match(text) and len(block) <= 3:
        region.category = "caption"
    elif _is_heading(block, h, body_h, text):
        region.category = "heading1"
    elif marker(block[0].text):
        region.category = "list"
        region.items, region.ordered = _list_items(block)
    return region


def _is_heading(block: Sequence[Line], h: float, body_h: float, text: str) -> bool:
    if len(block) <= 3 and h >= 1.25 * body_h:
        return True
    words = text.split()
    return len(block) == 1 and h >= 1.1 * body_h and len(words) <= 10 and not text.endswith((".", ",", ";"))
