"""Ruling lines in a page image: long thin horizontal and vertical ink runs, grouped into ruled grids.

Text strokes are shorter than a line of text is tall, so a vertical run longer than that and a horizontal run
longer than a few words are rules. Rules that touch each other form one grid (a table's frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .words import Box


@dataclass
class Grid:
    """One group of touching rules: their horizontal y positions and vertical x positions."""

    box: Box
    hlines: list[tuple[float, float, float]] = field(default_factory=list)  # (y, x0, x1)
    vlines: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y0, y1)


def ink_mask(image: Image.Image, threshold: int = 160) -> np.ndarray:
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    return gray < threshold


def _runs(mask: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """True where the pixel is in a horizontal (or vertical) run of at least `length` ink pixels: a
    morphological opening with a line `length` long."""
    import cv2  # RapidOCR's dependency; imported here so that importing the package loads no native code

    kernel = np.ones((1, length) if horizontal else (length, 1), np.uint8)
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)


def _segments(
    lines: np.ndarray, axis: int, min_len: int, max_thick: float
) -> list[tuple[float, float, float]]:
    """Line mask to (position, start, end) segments; adjacent rows/cols of one thick line merge, and a run
    thicker than `max_thick` (a filled shape, not a rule) is dropped."""
    mask = lines if axis == 0 else lines.T
    segs: list[tuple[float, float, float]] = []
    rows = np.nonzero(mask.any(axis=1))[0]
    open_segs: list[list[float]] = []  # [pos_sum, n, start, end, last_row]
    for r in rows.tolist():
        cols = np.nonzero(mask[r])[0]
        starts = np.concatenate(([cols[0]], cols[1:][np.diff(cols) > 1]))
        ends = np.concatenate((cols[:-1][np.diff(cols) > 1], [cols[-1]]))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            for seg in open_segs:
                if r - seg[4] <= 2 and min(seg[3], e) - max(seg[2], s) > 0.5 * (e - s):
                    seg[0] += r
                    seg[1] += 1
                    seg[2], seg[3], seg[4] = min(seg[2], s), max(seg[3], e), r
                    break
            else:
                open_segs.append([float(r), 1.0, float(s), float(e), float(r)])
    for pos_sum, n, s, e, _ in open_segs:
        if e - s >= min_len and n <= max_thick:
            segs.append((pos_sum / n, s, e + 1))
    return segs


def find_rules(mask: np.ndarray, text_height: float) -> tuple[list, list]:
    """(horizontal, vertical) rule segments as (position, start, end) in pixels."""
    w = mask.shape[1]
    h_min = max(30, int(w * 0.03), int(text_height * 2.5))
    v_min = max(12, int(text_height * 1.15))
    hmask = _runs(mask, h_min, horizontal=True)
    vmask = _runs(mask, v_min, horizontal=False)
    thick = max(6.0, 0.35 * text_height)
    return _segments(hmask, 0, h_min, thick), _segments(vmask, 1, v_min, thick)


def _touches(a: Box, b: Box, tol: float) -> bool:
    return a[0] - tol <= b[2] and b[0] - tol <= a[2] and a[1] - tol <= b[3] and b[1] - tol <= a[3]


def group_grids(hsegs: list, vsegs: list, tol: float = 4.0) -> list[Grid]:
    """Rules that touch (within `tol` px) grouped into grids."""
    items: list[tuple[str, tuple[float, float, float], Box]] = [
        ("h", s, (s[1], s[0] - 1, s[2], s[0] + 1)) for s in hsegs
    ] + [("v", s, (s[0] - 1, s[1], s[0] + 1, s[2])) for s in vsegs]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if _touches(items[i][2], items[j][2], tol):
                parent[find(i)] = find(j)
    groups: dict[int, Grid] = {}
    for i, (kind, seg, box) in enumerate(items):
        g = groups.setdefault(find(i), Grid(box=box))
        g.box = (min(g.box[0], box[0]), min(g.box[1], box[1]), max(g.box[2], box[2]), max(g.box[3], box[3]))
        (g.hlines if kind == "h" else g.vlines).append(seg)
    return list(groups.values())


def merge_positions(values: list[float], tol: float) -> list[float]:
    """Sorted positions with near-duplicates (within `tol`) merged into their mean."""
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(g) / len(g) for g in out]
