"""Figures: large patches of ink that are neither words nor table rules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .words import Box, PageWord

SCALE = 4  # the ink mask is searched at a quarter of the page's resolution


def find_figures(
    mask: np.ndarray, words: Sequence[PageWord], exclude: Sequence[Box], text_h: float
) -> list[Box]:
    """Boxes of ink clusters at least ~3 text lines tall and wide, after words and `exclude` boxes are blanked."""
    import cv2  # RapidOCR's dependency; imported here so that importing the package loads no native code

    h, w = mask.shape
    # a cell is inked if any of its pixels is (area averaging keeps lines thinner than the scale)
    small = (
        cv2.resize(mask.astype(np.uint8) * 255, (w // SCALE, h // SCALE), interpolation=cv2.INTER_AREA) > 0
    )
    pad = max(1, int(text_h * 0.15))
    for x0, y0, x1, y1 in [*((wd.x0, wd.y0, wd.x1, wd.y1) for wd in words), *exclude]:
        small[
            max(0, int(y0 - pad) // SCALE) : int(y1 + pad) // SCALE + 1,
            max(0, int(x0 - pad) // SCALE) : int(x1 + pad) // SCALE + 1,
        ] = False
    if not small.any():
        return []
    k = max(3, int(text_h / SCALE))
    grown = cv2.dilate(small.astype(np.uint8), np.ones((k, k), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    min_side = max(40.0, 2.5 * text_h)
    boxes: list[Box] = []
    for i in range(1, n):
        x, y, bw, bh, _area = (int(v) for v in stats[i])
        # dilation grew each side by about k/2 cells
        x0, y0 = (x + k // 2) * SCALE, (y + k // 2) * SCALE
        x1, y1 = min(w, (x + bw - k // 2) * SCALE), min(h, (y + bh - k // 2) * SCALE)
        if max(x1 - x0, y1 - y0) >= text_h:  # specks of a scan are not part of any figure
            boxes.append((float(x0), float(y0), float(x1), float(y1)))
    boxes = sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)[:200]
    boxes = _merge_near(boxes, text_h)
    return [b for b in boxes if b[2] - b[0] >= min_side and b[3] - b[1] >= min_side]


def _merge_near(boxes: list[Box], gap: float) -> list[Box]:
    """Boxes closer than `gap` merged, until none are (the bars of one chart become one figure)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] - gap <= b[2] and b[0] - gap <= a[2] and a[1] - gap <= b[3] and b[1] - gap <= a[3]:
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _blob(mask: np.ndarray, box: tuple[int, int, int, int]) -> Box | None:
    x0, y0, x1, y1 = box
    window = mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
    if window.size == 0 or not window.any():
        return None
    rows = np.nonzero(window.any(axis=1))[0]
    cols = np.nonzero(window.any(axis=0))[0]
    return (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)


def bullet_box(mask: np.ndarray, line_box: Box, words: Sequence[PageWord]) -> Box | None:
    """The box of a bullet glyph the OCR left out, just left of a line: one small blob, vertically centred."""
    lx0, ly0, _, ly1 = line_box
    h = ly1 - ly0
    win = (int(lx0 - 2.5 * h), int(ly0), int(lx0 - 0.15 * h), int(ly1))
    if win[2] <= 0 or any(w.x1 > win[0] and w.x0 < win[2] and w.y1 > win[1] and w.y0 < win[3] for w in words):
        return None
    blob = _blob(mask, win)
    if (
        blob is None or blob[0] <= win[0] or blob[2] >= win[2]
    ):  # ink runs on past the window: not a lone glyph
        return None
    bw, bh = blob[2] - blob[0], blob[3] - blob[1]
    mid = (blob[1] + blob[3]) / 2
    if not (0.1 * h <= bh <= 0.6 * h and bw <= 0.6 * h and ly0 + 0.2 * h <= mid <= ly1 - 0.2 * h):
        return None
    return blob
