"""The text layer of born-digital PDF pages: whether it can be trusted, and its words with pixel boxes.

A page's text layer is used instead of OCR only when it shows what the page shows (`judge`):
- it has text, and few junk characters (U+FFFD, private use, unassigned, control, unmapped glyphs);
- none of it is invisible (render mode 3/7 or fully transparent, the mark of an earlier OCR's hidden layer)
  or drawn under an image (a scan placed over its own OCR text);
- its character boxes cover the ink of the rendered page (a scan with a digital footer, text drawn as
  outlines, or a page that is mostly photo fails this), and most of its characters sit on ink. A page that
  draws nothing but plain text, thin rules and light backgrounds under the text (`pdfchars.Drawing`) needs no
  render for this: all its ink is glyphs (`_drawn_ink`).

Words are whitespace-delimited runs of characters (pdfium's generated spaces and line breaks included), so
CJK runs are never split into characters; a word's box is the union of its glyph boxes, mapped into the
pixel space of the page's `DEFAULT_DPI` render (the one OCR sees). Lines are runs of words on one baseline
with no column-sized gap, handed to the same reading-order assembly as OCR lines. Confidence is 1.0. A trusted
page comes as its stored JSON (`models.PageJSON`), never as models.

The characters come from `pdfchars`. `read_page` expects the caller to hold `documents.PDFIUM_LOCK`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import models
from .engines.geometry import TextLine, TextWord, quad_from_box, reading_rows
from .pdfchars import Box, Char, Layer, is_junk, read_chars, read_layer

__all__ = ["Char", "PageResult", "Verdict", "is_junk", "judge", "layer_page", "read_chars", "read_page"]

# Trust thresholds (see `judge`).
MAX_JUNK_SHARE = 0.02  # junk characters among the visible non-space ones
MAX_HIDDEN_SHARE = 0.01  # invisible or image-covered characters among the non-space ones
MIN_INK_COVERAGE = 0.6  # share of the page's ink (rules excluded) inside the characters' boxes
MIN_CHARS_ON_INK = 0.85  # share of characters whose box has ink under it
CHECK_DPI = 48  # the trust check's render: cheap, and text is still a few pixels tall
INK_LEVEL = 170  # a grey level below this is ink
RULE_RUN = 0.25  # inches: straight ink runs at least this long are rules, not text, and are ignored
MIN_JUDGED_PX = 1.5  # glyph boxes narrower or flatter than this at CHECK_DPI are not asked to be on ink


@dataclass
class Verdict:
    trusted: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)
    rendered: bool = True  # the page was rendered to look at its ink (not when it draws nothing but text)


# --------------------------------------------------------------------------------------------------
# The trust check (pure: characters and a grey image)


def _rules(ink: np.ndarray, run: int) -> np.ndarray:
    """Ink pixels (`ink` 0/1, uint8) that belong to a horizontal or vertical straight run of at least `run`
    pixels: a morphological opening with a `run`-long line, each way (outside the image is not ink)."""
    import cv2  # RapidOCR's dependency; imported here so that importing the package loads no native code

    out = np.zeros_like(ink)
    for kernel, last in (
        (np.ones((1, run), np.uint8), (run - 1, 0)),
        (np.ones((run, 1), np.uint8), (0, run - 1)),
    ):
        if kernel.shape[0] > ink.shape[0] or kernel.shape[1] > ink.shape[1]:
            continue
        # the run-long window starting here is all ink; then every pixel of such a window
        starts = cv2.erode(ink, kernel, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        out |= cv2.dilate(starts, kernel, anchor=last, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def _box_sums(table: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Sums over integer boxes (x0, y0, x1, y1; end exclusive) from a summed-area table with a zero border."""
    x0, y0, x1, y1 = boxes.T
    return np.asarray(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])


def _union_mask(cells: np.ndarray, h: int, w: int) -> np.ndarray:
    """The pixels inside any of the integer boxes `cells` (x0, y0, x1, y1; end exclusive, within h x w): a 2-D
    difference array (+1/-1 at the corners) summed up."""
    import cv2

    x0, y0, x1, y1 = cells.T
    at = np.concatenate([y0 * (w + 1) + x0, y0 * (w + 1) + x1, y1 * (w + 1) + x0, y1 * (w + 1) + x1])
    signs = np.repeat(np.array([1.0, -1.0, -1.0, 1.0]), len(cells))
    diff = np.bincount(at, weights=signs, minlength=(h + 1) * (w + 1)).reshape(h + 1, w + 1)
    return np.asarray(cv2.integral(diff[:h, :w].astype(np.float32))[1:, 1:] > 0.5)


def judge(chars: Sequence[Char], grey: np.ndarray, scale: float) -> Verdict:
    """Whether the text layer `chars` (boxes in render pixels) shows what `grey` (the page at `scale` times
    the render's resolution, 0-255) shows. The reason says why not. (`read_page` makes the same verdict from
    a page's `Layer`, without the render when the page draws nothing but its text.)"""
    layer = Layer.of_chars(chars)
    verdict = _judge_characters(layer)
    return _rendered_ink(layer, verdict.stats, grey, scale) if verdict.trusted else verdict


def _judge_characters(layer: Layer) -> Verdict:
    """The verdict on the characters alone: text there, few junk characters, none hidden, glyph boxes. A
    trusted verdict here only means the ink has still to be looked at."""
    n = len(layer.text) - layer.text.count(" ")  # characters that are not whitespace
    if not n:
        return Verdict(False, "no text layer")
    junk = int(layer.junk.sum()) / n
    hidden = int(layer.hidden.sum()) / n
    stats = {"chars": float(n), "junk": round(junk, 4), "hidden": round(hidden, 4)}
    if hidden > MAX_HIDDEN_SHARE:
        return Verdict(False, "invisible or covered text (an earlier OCR layer?)", stats)
    if junk > MAX_JUNK_SHARE:
        return Verdict(False, "unmapped or junk characters", stats)
    if not len(layer.box):
        return Verdict(False, "the text layer has no glyph boxes", stats)
    return Verdict(True, "text layer", stats)


def _drawn_ink(layer: Layer, stats: dict[str, float], width: int, height: int) -> Verdict:
    """The ink half of the verdict for a page that draws nothing but its text: all its ink is glyphs inside
    their boxes, so the coverage is complete by construction, and a character is on ink when its glyph box is
    on the `width` x `height` render and at least a pixel across."""
    box = layer.box
    w = np.minimum(box[:, 2], width) - np.maximum(box[:, 0], 0)
    h = np.minimum(box[:, 3], height) - np.maximum(box[:, 1], 0)
    on_ink = float(((w > 0) & (h > 0) & (np.maximum(w, h) >= 1)).mean())
    stats = {**stats, "coverage": 1.0, "on_ink": round(on_ink, 4)}
    if on_ink < MIN_CHARS_ON_INK:
        return Verdict(False, "text without ink under it (hidden or white text)", stats, rendered=False)
    return Verdict(True, "text layer", stats, rendered=False)


def _rendered_ink(layer: Layer, stats: dict[str, float], grey: np.ndarray, scale: float) -> Verdict:
    """The ink half of the verdict, on `grey` (the page at `scale` times the render's resolution): enough of
    the glyphs on ink, and enough of the ink (rules aside) inside the glyph boxes."""
    import cv2

    boxed = layer.box
    ink = (np.ascontiguousarray(grey) < INK_LEVEL).view(np.uint8)
    ink = ink & (1 - _rules(ink, max(2, round(RULE_RUN * CHECK_DPI))))
    h, w = ink.shape
    # each glyph box at the check's scale, one pixel wider on every side (anti-aliasing, rounding)
    cells = np.floor(boxed * scale).astype(int) + np.array([-1, -1, 2, 2])
    cells = np.clip(cells, 0, [w, h, w, h])
    kept = (cells[:, 2] > cells[:, 0]) & (cells[:, 3] > cells[:, 1])
    # glyphs too small to leave ink at this resolution (periods, commas, a table of contents' dot leaders)
    # are not asked to be on ink; they still count as covering it
    judged = kept & (
        np.minimum(boxed[:, 2] - boxed[:, 0], boxed[:, 3] - boxed[:, 1]) * scale >= MIN_JUDGED_PX
    )
    cells, judged = cells[kept], judged[kept]
    table = cv2.integral(ink)  # (h + 1) x (w + 1), zero first row and column
    on_ink = float((_box_sums(table, cells[judged]) > 0).mean()) if judged.any() else 0.0
    total = int(table[-1, -1])
    covered = int(np.count_nonzero(ink.view(bool) & _union_mask(cells, h, w))) if len(cells) else 0
    coverage = covered / total if total else 0.0
    stats = {**stats, "coverage": round(coverage, 4), "on_ink": round(on_ink, 4)}
    if total == 0 or on_ink < MIN_CHARS_ON_INK:
        return Verdict(False, "text without ink under it (hidden or white text)", stats)
    if coverage < MIN_INK_COVERAGE:
        return Verdict(False, "ink outside the text layer (a scan, an image or outlined text)", stats)
    return Verdict(True, "text layer", stats)


# --------------------------------------------------------------------------------------------------
# Words and lines (pure)


def group_words(chars: Sequence[Char]) -> list[tuple[str, Box, Box]]:
    """`layer_words` of characters."""
    return layer_words(Layer.of_chars(chars))


def layer_words(layer: Layer) -> list[tuple[str, Box, Box]]:
    """Whitespace-delimited runs of characters as (text, ink box, font box); a run also ends where the text
    jumps to another line or leaves a gap wider than its line height. Junk and hidden characters are dropped;
    characters without a glyph box go with the run around them, and a run needs at least one glyph box.
    """
    texts, boxes, fonts = _layer_runs(layer)
    return [
        (t, tuple(b), tuple(f))  # type: ignore[misc]
        for t, b, f in zip(texts, boxes.tolist(), fonts.tolist(), strict=True)
    ]


def _layer_runs(layer: Layer) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`layer_words` as (texts, ink boxes n x 4, font boxes n x 4)."""
    keep = ~(layer.junk | layer.hidden)
    idx, ink, font = layer.index[keep], layer.box[keep], layer.loose[keep]
    if not len(idx):
        return [], np.zeros((0, 4)), np.zeros((0, 4))
    text = layer.text
    space = np.array(text) == " "
    spaces = np.flatnonzero(space)
    before = np.concatenate([[0], np.cumsum(space)])  # before[k]: whitespace among text[:k]
    # where a new run starts: whitespace since the last kept glyph, or a break between the two glyphs' font
    # boxes (back left of the previous glyph's start, or a gap wider than the line height)
    broken = _breaks(font, back_from=0, max_gap=1.0)
    spaced = before[idx[1:]] - before[idx[:-1] + 1] > 0
    starts = np.flatnonzero(np.concatenate([[True], broken | spaced]))
    boxes, fonts = _run_unions(ink, starts), _run_unions(font, starts)
    texts: list[str] = []
    # Each run's characters: from after the whitespace before its first glyph (or from that glyph, after a
    # break) to before the whitespace after its last glyph (or before the next run's first glyph).
    dropped = space.copy()
    dropped[layer.index[~keep]] = True
    gone = np.concatenate([[0], np.cumsum(dropped)])
    firsts = idx[starts]
    lasts = idx[np.append(starts[1:], len(idx)) - 1]
    by_space = np.concatenate([[True], spaced[starts[1:] - 1]])
    ends = np.append(spaces, len(text))  # where whitespace (or the text) ends a run
    before_first = np.searchsorted(spaces, firsts) - 1
    lo = np.where(by_space, np.where(before_first >= 0, ends[before_first] + 1, 0), firsts)
    hi = np.where(
        np.append(by_space[1:], True), ends[np.searchsorted(spaces, lasts)], np.append(firsts[1:], 0)
    )
    thinned = (gone[hi] - gone[lo] > 0).tolist()  # runs with dropped characters inside
    for a, b, thin in zip(lo.tolist(), hi.tolist(), thinned, strict=True):
        texts.append("".join(text[i] for i in range(a, b) if not dropped[i]) if thin else "".join(text[a:b]))
    return texts, boxes, fonts


def _run_unions(boxes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The union of each run of consecutive `boxes` (n x 4, left, top, right, bottom); runs begin at `starts`."""
    lows = np.minimum.reduceat(boxes[:, :2], starts, axis=0)
    highs = np.maximum.reduceat(boxes[:, 2:], starts, axis=0)
    return np.concatenate([lows, highs], axis=1)


def group_lines(words: Sequence[tuple[str, Box, Box]]) -> list[TextLine]:
    """Consecutive words on one baseline, left to right, without a column-sized gap, as `TextLine`s."""
    if not words:
        return []
    starts = _line_starts(np.array([w[2] for w in words], dtype=float))
    bounds = [*starts.tolist(), len(words)]
    unions = _run_unions(np.array([w[1] for w in words], dtype=float), starts).tolist()
    return [
        TextLine(
            points=quad_from_box(*box),
            words=[TextWord(text, 1.0, quad_from_box(*ink)) for text, ink, _font in words[a:b]],
        )
        for a, b, box in zip(bounds[:-1], bounds[1:], unions, strict=True)
    ]


def _line_starts(fonts: np.ndarray) -> np.ndarray:
    """Where lines begin among consecutive words with these font boxes (n x 4): a word that breaks from the
    word before it, going back left of that word's end or leaving more than two line heights after it."""
    return np.flatnonzero(np.concatenate([[True], _breaks(fonts, back_from=2, max_gap=2.0)]))


def _breaks(fonts: np.ndarray, back_from: int, max_gap: float) -> np.ndarray:
    """For each pair of consecutive font boxes (n x 4), whether the second cannot follow the first on its
    line: its middle is not within the first's height, it starts more than half a line height left of the
    first's column `back_from` (0 its left, 2 its right), or more than `max_gap` line heights after its end."""
    a, b = fonts[:-1], fonts[1:]
    height = np.maximum(np.maximum(a[:, 3] - a[:, 1], b[:, 3] - b[:, 1]), 1.0)
    centre = (b[:, 1] + b[:, 3]) / 2
    broken = (centre < a[:, 1]) | (centre > a[:, 3]) | (b[:, 0] < a[:, back_from] - 0.5 * height)
    return np.asarray(broken | (b[:, 0] - a[:, 2] > max_gap * height))


def _upright(boxes: np.ndarray, rotation: int, width: int, height: int) -> np.ndarray:
    """Boxes (n x 4) of a page shown turned clockwise by `rotation` (its /Rotate), in the upright page's frame."""
    x0, y0, x1, y1 = boxes.T
    if rotation == 90:
        return np.stack([y0, width - x1, y1, width - x0], axis=1)
    if rotation == 180:
        return np.stack([width - x1, height - y1, width - x0, height - y0], axis=1)
    if rotation == 270:
        return np.stack([height - y1, x0, height - y0, x1], axis=1)
    return boxes


def _pixel_boxes(boxes: np.ndarray, rotation: int, width: int, height: int) -> np.ndarray:
    """Upright boxes (n x 4) of a page shown turned by `rotation` mapped back into its `width` x `height`
    render (as `geometry.map_point_back` maps their corners), as integer boxes (left, top, right, bottom)
    within the render: what `models.order_clockwise(clamp_points(...))` makes of each box's corners."""
    x0, y0, x1, y1 = boxes.T
    if rotation == 90:
        x0, y0, x1, y1 = width - y1, x0, width - y0, x1
    elif rotation == 180:
        x0, y0, x1, y1 = width - x1, height - y1, width - x0, height - y0
    elif rotation == 270:
        x0, y0, x1, y1 = y0, height - x1, y1, height - x0
    out = np.stack([x0, y0, x1, y1], axis=1)
    return np.rint(np.clip(out, 0, [width, height, width, height])).astype(np.int64)


def layer_page(
    chars: Sequence[Char] | Layer, width: int, height: int, rotation: int = 0, page_id: int = 0
) -> models.PageJSON:
    """The page's JSON from its text layer (`models.box_page_json`): words (`layer_words`) grouped into lines
    (`group_lines`) and put in reading order (the OCR path's assembly, `geometry.reading_rows`), confidence
    1.0, source `text-layer`.

    `width` x `height` is the render; `rotation` the page's /Rotate. Words and lines are found in the frame of
    the upright text and mapped back into the render, as the OCR path does with pages it turned.
    """
    layer = chars if isinstance(chars, Layer) else Layer.of_chars(chars)
    rotation %= 360
    if rotation in (90, 180, 270):
        layer = replace(
            layer,
            box=_upright(layer.box, rotation, width, height),
            loose=_upright(layer.loose, rotation, width, height),
        )
    texts, boxes, fonts = _layer_runs(layer)
    if not texts:
        return models.box_page_json(page_id, width, height, [], source=models.TEXT_LAYER)
    # Lines as reading order needs them: a box and the words' text (each word's box stays in `boxes`).
    starts = _line_starts(fonts).tolist()
    ends = [*starts[1:], len(texts)]
    lines = [
        TextLine(points=quad_from_box(*box), words=[TextWord(t, 1.0, []) for t in texts[a:b]])
        for a, b, box in zip(starts, ends, _run_unions(boxes, np.array(starts)).tolist(), strict=True)
    ]
    span = {id(line): (a, b) for line, a, b in zip(lines, starts, ends, strict=True)}
    order: list[int] = []
    line_of: list[int] = []
    for index, row in enumerate(reading_rows(lines)):
        for line in row:
            a, b = span[id(line)]
            order += range(a, b)
            line_of += [index] * (b - a)
    pixel = _pixel_boxes(boxes[order], rotation, width, height).tolist()
    words = [(texts[k], n, *box) for k, n, box in zip(order, line_of, pixel, strict=True) if texts[k].strip()]
    return models.box_page_json(page_id, width, height, words, source=models.TEXT_LAYER)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# One page


@dataclass
class PageResult:
    verdict: Verdict
    data: models.PageJSON | None  # the page's JSON from the text layer when the verdict trusts it

    @property
    def page(self) -> models.Page | None:
        """The page as a model (the job path stores `data` as it is)."""
        return None if self.data is None else self.data.page()


def read_page(pdf_page: Any, page_index: int, scale: float) -> PageResult:
    """Judge the page's text layer and, if it is trusted, build the page from it (caller holds the lock).

    `scale` is the OCR path's render scale for this page (pixels per point); the boxes use its pixel space.
    """
    width = math.ceil(pdf_page.get_width() * scale)
    height = math.ceil(pdf_page.get_height() * scale)
    text_page = pdf_page.get_textpage()
    try:
        layer = read_layer(pdf_page, text_page.raw, width, height)
    finally:
        text_page.close()
    verdict = _judge_characters(layer)
    if not verdict.trusted:  # no text, junk or hidden characters: no render needed to say so
        verdict.rendered = False
    elif layer.text_only:
        verdict = _drawn_ink(layer, verdict.stats, width, height)
    else:
        check_scale = min(1.0, (CHECK_DPI / 72.0) / scale)
        verdict = _rendered_ink(layer, verdict.stats, _grey(pdf_page, scale * check_scale), check_scale)
    if not verdict.trusted:
        return PageResult(verdict, None)
    return PageResult(verdict, layer_page(layer, width, height, pdf_page.get_rotation(), page_index))


def _grey(pdf_page: Any, scale: float) -> np.ndarray:
    """The page rendered in grey at `scale` pixels per point."""
    bitmap = pdf_page.render(scale=scale, grayscale=True)
    try:
        grey = np.array(bitmap.to_numpy(), dtype=np.uint8)
    finally:
        bitmap.close()
    return grey[..., 0] if grey.ndim == 3 else grey
