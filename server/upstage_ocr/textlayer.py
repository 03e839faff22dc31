"""The text layer of born-digital PDF pages: whether it can be trusted, and its words with pixel boxes.

A page's text layer is used instead of OCR only when it shows what the page shows (`judge`):
- it has text, and few junk characters (U+FFFD, private use, unassigned, control, unmapped glyphs);
- none of it is invisible (render mode 3/7 or fully transparent, the mark of an earlier OCR's hidden layer)
  or drawn under an image (a scan placed over its own OCR text);
- its character boxes cover the ink of the rendered page (a scan with a digital footer, text drawn as
  outlines, or a page that is mostly photo fails this), and most of its characters sit on ink.

Words are whitespace-delimited runs of characters (pdfium's generated spaces and line breaks included), so
CJK runs are never split into characters; a word's box is the union of its glyph boxes, mapped into the
pixel space of the page's `DEFAULT_DPI` render (the one OCR sees). Lines are runs of words on one baseline
with no column-sized gap, handed to the same reading-order assembly as OCR lines. Confidence is 1.0.

The characters come from `pdfchars`. `read_page` expects the caller to hold `documents.PDFIUM_LOCK`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import models
from .engines.geometry import TextLine, TextWord, quad_from_box, to_raw_words
from .pdfchars import Box, Char, is_junk, read_chars

__all__ = ["Char", "PageResult", "Verdict", "is_junk", "judge", "raw_words", "read_chars", "read_page"]

# Trust thresholds (see `judge`).
MAX_JUNK_SHARE = 0.02  # junk characters among the visible non-space ones
MAX_HIDDEN_SHARE = 0.01  # invisible or image-covered characters among the non-space ones
MIN_INK_COVERAGE = 0.6  # share of the page's ink (rules excluded) inside the characters' boxes
MIN_CHARS_ON_INK = 0.85  # share of characters whose box has ink under it
CHECK_DPI = 48  # the trust check's render: cheap, and text is still a few pixels tall
INK_LEVEL = 170  # a grey level below this is ink
RULE_RUN = 0.25  # inches: straight ink runs at least this long are rules, not text, and are ignored


@dataclass
class Verdict:
    trusted: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The trust check (pure: characters and a grey image)


def _runs(a: np.ndarray, k: int, combine: Any) -> np.ndarray:
    """`combine` (logical and/or) over every window of `k` consecutive values along the last axis."""
    have = 1
    while have < k:
        step = min(have, k - have)
        a = combine(a[..., :-step], a[..., step:])
        have += step
    return a


def _rules(ink: np.ndarray, run: int) -> np.ndarray:
    """Ink pixels that belong to a horizontal or vertical straight run of at least `run` pixels."""
    out = np.zeros_like(ink)
    for axis in (0, 1):
        line = np.moveaxis(ink, axis, -1)
        if line.shape[-1] < run:
            continue
        full = _runs(line, run, np.logical_and)  # the window starting here is all ink
        pad = np.zeros((*full.shape[:-1], run - 1), dtype=bool)
        out |= np.moveaxis(_runs(np.concatenate([pad, full, pad], axis=-1), run, np.logical_or), -1, axis)
    return out


def _box_sums(table: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Sums over integer boxes (x0, y0, x1, y1; end exclusive) from a summed-area table with a zero border."""
    x0, y0, x1, y1 = boxes.T
    return np.asarray(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])


def judge(chars: Sequence[Char], grey: np.ndarray, scale: float) -> Verdict:
    """Whether the text layer `chars` (boxes in render pixels) shows what `grey` (the page at `scale` times
    the render's resolution, 0-255) shows. The reason says why not."""
    solid = [c for c in chars if c.text.strip()]
    if not solid:
        return Verdict(False, "no text layer")
    n = len(solid)
    junk = sum(c.junk for c in solid) / n
    hidden = sum(c.hidden for c in solid) / n
    stats = {"chars": float(n), "junk": round(junk, 4), "hidden": round(hidden, 4)}
    if hidden > MAX_HIDDEN_SHARE:
        return Verdict(False, "invisible or covered text (an earlier OCR layer?)", stats)
    if junk > MAX_JUNK_SHARE:
        return Verdict(False, "unmapped or junk characters", stats)
    boxed = np.array([c.box for c in solid if c.box is not None], dtype=float).reshape(-1, 4)
    if not len(boxed):
        return Verdict(False, "the text layer has no glyph boxes", stats)
    ink = grey < INK_LEVEL
    ink &= ~_rules(ink, max(2, round(RULE_RUN * CHECK_DPI)))
    h, w = ink.shape
    # each glyph box at the check's scale, one pixel wider on every side (anti-aliasing, rounding)
    cells = np.floor(boxed * scale).astype(int) + np.array([-1, -1, 2, 2])
    cells = np.clip(cells, 0, [w, h, w, h])
    cells = cells[(cells[:, 2] > cells[:, 0]) & (cells[:, 3] > cells[:, 1])]
    table = np.pad(ink.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    on_ink = float((_box_sums(table, cells) > 0).mean()) if len(cells) else 0.0
    cover = np.zeros((h + 1, w + 1), np.int32)  # the union of the boxes, by a 2-D difference array
    x0, y0, x1, y1 = cells.T
    np.add.at(cover, (y0, x0), 1)
    np.add.at(cover, (y0, x1), -1)
    np.add.at(cover, (y1, x0), -1)
    np.add.at(cover, (y1, x1), 1)
    mask = cover.cumsum(0).cumsum(1)[:h, :w] > 0
    total = int(ink.sum())
    coverage = float((ink & mask).sum()) / total if total else 0.0
    stats.update(coverage=round(coverage, 4), on_ink=round(on_ink, 4))
    if total == 0 or on_ink < MIN_CHARS_ON_INK:
        return Verdict(False, "text without ink under it (hidden or white text)", stats)
    if coverage < MIN_INK_COVERAGE:
        return Verdict(False, "ink outside the text layer (a scan, an image or outlined text)", stats)
    return Verdict(True, "text layer", stats)


# --------------------------------------------------------------------------------------------------
# Words and lines (pure)


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def group_words(chars: Sequence[Char]) -> list[tuple[str, Box, Box]]:
    """Whitespace-delimited runs of characters as (text, ink box, font box); a run also ends where the text
    jumps to another line or leaves a gap wider than its line height. Junk and hidden characters are dropped.
    """
    words: list[tuple[str, Box, Box]] = []
    text: list[str] = []
    boxes: list[Box] = []
    looses: list[Box] = []

    def flush() -> None:
        if text and boxes:
            words.append(("".join(text), _union(boxes), _union(looses)))
        text.clear()
        boxes.clear()
        looses.clear()

    for c in chars:
        if not c.text.strip():
            flush()
            continue
        if c.junk or c.hidden:
            continue
        loose = c.loose or c.box
        if loose is not None and looses and _breaks(looses[-1], loose):
            flush()
        text.append(c.text)
        if c.box is not None and loose is not None:
            boxes.append(c.box)
            looses.append(loose)
    flush()
    return words


def _breaks(prev: Box, box: Box) -> bool:
    """Whether the glyph with font box `box` cannot continue the word whose last glyph has font box `prev`."""
    height = max(prev[3] - prev[1], box[3] - box[1], 1.0)
    centre = (box[1] + box[3]) / 2
    other_line = not prev[1] <= centre <= prev[3]
    return other_line or box[0] < prev[0] - 0.5 * height or box[0] - prev[2] > 1.0 * height


def group_lines(words: Sequence[tuple[str, Box, Box]]) -> list[TextLine]:
    """Consecutive words on one baseline, left to right, without a column-sized gap, as `TextLine`s."""
    lines: list[TextLine] = []
    current: list[tuple[str, Box, Box]] = []

    def flush() -> None:
        if current:
            box = _union([w[1] for w in current])
            words_out = [TextWord(text=t, confidence=1.0, points=quad_from_box(*b)) for t, b, _l in current]
            lines.append(TextLine(points=quad_from_box(*box), words=words_out))
        current.clear()

    for word in words:
        if current:
            last, box = current[-1][2], word[2]
            height = max(last[3] - last[1], box[3] - box[1], 1.0)
            centre = (box[1] + box[3]) / 2
            if (
                not last[1] <= centre <= last[3]
                or box[0] < last[2] - 0.5 * height
                or box[0] - last[2] > 2 * height
            ):
                flush()
        current.append(word)
    flush()
    return lines


def _upright(box: Box | None, rotation: int, width: int, height: int) -> Box | None:
    """A box of a page shown turned clockwise by `rotation` (its /Rotate), in the frame of the upright page."""
    if box is None or rotation not in (90, 180, 270):
        return box
    x0, y0, x1, y1 = box
    if rotation == 90:
        return (y0, width - x1, y1, width - x0)
    if rotation == 180:
        return (width - x1, height - y1, width - x0, height - y0)
    return (height - y1, x0, height - y0, x1)


def raw_words(chars: Sequence[Char], width: int, height: int, rotation: int = 0) -> list[models.RawWord]:
    """The page's words in reading order (the OCR path's assembly), each with its line number.

    `width` x `height` is the render; `rotation` the page's /Rotate. Words and lines are found in the frame of
    the upright text and mapped back into the render, as the OCR path does with pages it turned.
    """
    if rotation in (90, 180, 270):
        chars = [
            Char(
                c.text,
                _upright(c.box, rotation, width, height),
                _upright(c.loose, rotation, width, height),
                c.hidden,
                c.junk,
            )
            for c in chars
        ]
    return to_raw_words(group_lines(group_words(chars)), rotation % 360, (width, height))


# --------------------------------------------------------------------------------------------------
# One page


@dataclass
class PageResult:
    verdict: Verdict
    page: models.Page | None  # the page built from the text layer when the verdict trusts it


def read_page(pdf_page: Any, page_index: int, scale: float) -> PageResult:
    """Judge the page's text layer and, if it is trusted, build the page from it (caller holds the lock).

    `scale` is the OCR path's render scale for this page (pixels per point); the boxes use its pixel space.
    """
    width = math.ceil(pdf_page.get_width() * scale)
    height = math.ceil(pdf_page.get_height() * scale)
    text_page = pdf_page.get_textpage()
    try:
        chars = read_chars(pdf_page, text_page.raw, width, height)
    finally:
        text_page.close()
    if not any(c.text.strip() for c in chars):
        return PageResult(Verdict(False, "no text layer"), None)
    check_scale = min(1.0, (CHECK_DPI / 72.0) / scale)
    bitmap = pdf_page.render(scale=scale * check_scale, grayscale=True)
    try:
        grey = np.array(bitmap.to_numpy(), dtype=np.uint8)
    finally:
        bitmap.close()
    if grey.ndim == 3:
        grey = grey[..., 0]
    verdict = judge(chars, grey, check_scale)
    if not verdict.trusted:
        return PageResult(verdict, None)
    words = raw_words(chars, width, height, pdf_page.get_rotation())
    page = models.build_page(page_index, width, height, words, first_word_id=0, source=models.TEXT_LAYER)
    return PageResult(verdict, page)
