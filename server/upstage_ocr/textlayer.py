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

Every function that touches pdfium expects the caller to hold `documents.PDFIUM_LOCK`.
"""

from __future__ import annotations

import ctypes
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import models
from .engines.layout import TextLine, TextWord, quad_from_box, to_raw_words

Box = tuple[float, float, float, float]  # left, top, right, bottom in render pixels

# Trust thresholds (see `judge`).
MAX_JUNK_SHARE = 0.02  # junk characters among the visible non-space ones
MAX_HIDDEN_SHARE = 0.01  # invisible or image-covered characters among the non-space ones
MIN_INK_COVERAGE = 0.6  # share of the page's ink (rules excluded) inside the characters' boxes
MIN_CHARS_ON_INK = 0.85  # share of characters whose box has ink under it
CHECK_DPI = 48  # the trust check's render: cheap, and text is still a few pixels tall
INK_LEVEL = 170  # a grey level below this is ink
RULE_RUN = 0.25  # inches: straight ink runs at least this long are rules, not text, and are ignored


@dataclass
class Char:
    text: str
    box: Box | None  # the glyph's ink box; None for characters without one (spaces, generated breaks)
    loose: Box | None = None  # the font's box (ascent to descent): one height for every glyph of a line
    hidden: bool = False  # invisible render mode, transparent, or under an image
    junk: bool = False


@dataclass
class Verdict:
    trusted: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Reading characters (pdfium)


def _is_junk(ch: str) -> bool:
    if ch == "\ufffd":
        return True
    cat = unicodedata.category(ch)
    return cat in ("Co", "Cs", "Cn") or (cat == "Cc" and not ch.isspace())


class _Mapper:
    """Page space (points, y up) to the pixels of a render at `scale`, as pypdfium2 renders (rotation 0)."""

    def __init__(self, pdf_page: Any, width: int, height: int) -> None:
        import pypdfium2.raw as raw

        k = 64  # map into a 64x larger device so pdfium's integer results keep 1/64 px precision
        dx, dy = ctypes.c_int(), ctypes.c_int()

        def dev(x: float, y: float) -> tuple[float, float]:
            raw.FPDF_PageToDevice(pdf_page, 0, 0, width * k, height * k, 0, x, y, dx, dy)
            return dx.value / k, dy.value / k

        self.o = dev(0.0, 0.0)
        ax, ay = dev(1000.0, 0.0)
        bx, by = dev(0.0, 1000.0)
        self.a = ((ax - self.o[0]) / 1000.0, (ay - self.o[1]) / 1000.0)
        self.b = ((bx - self.o[0]) / 1000.0, (by - self.o[1]) / 1000.0)

    def box(self, left: float, right: float, bottom: float, top: float) -> Box:
        xs, ys = [], []
        for x, y in ((left, bottom), (right, top), (left, top), (right, bottom)):
            xs.append(self.o[0] + x * self.a[0] + y * self.b[0])
            ys.append(self.o[1] + x * self.a[1] + y * self.b[1])
        return (min(xs), min(ys), max(xs), max(ys))


def _image_boxes(pdf_page: Any) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(z-order index, page-space bounds) of the page's top-level image objects."""
    import pypdfium2.raw as raw

    out = []
    bounds = [ctypes.c_float() for _ in range(4)]
    for i in range(raw.FPDFPage_CountObjects(pdf_page)):
        obj = raw.FPDFPage_GetObject(pdf_page, i)
        if raw.FPDFPageObj_GetType(obj) == raw.FPDF_PAGEOBJ_IMAGE and raw.FPDFPageObj_GetBounds(obj, *bounds):
            x0, y0, x1, y1 = (v.value for v in bounds)
            out.append((i, (x0, y0, x1, y1)))
    return out


def _object_index(pdf_page: Any) -> dict[int, int]:
    import pypdfium2.raw as raw

    return {
        ctypes.cast(raw.FPDFPage_GetObject(pdf_page, i), ctypes.c_void_p).value or 0: i
        for i in range(raw.FPDFPage_CountObjects(pdf_page))
    }


def _object_hidden(obj: Any) -> bool:
    """Text drawn invisibly (render modes 3 and 7) or with a fully transparent fill."""
    import pypdfium2.raw as raw

    mode = raw.FPDFTextObj_GetTextRenderMode(obj)
    if mode in (raw.FPDF_TEXTRENDERMODE_INVISIBLE, raw.FPDF_TEXTRENDERMODE_CLIP):
        return True
    rgba = [ctypes.c_uint() for _ in range(4)]
    fill_modes = (raw.FPDF_TEXTRENDERMODE_FILL, raw.FPDF_TEXTRENDERMODE_FILL_CLIP)
    return bool(mode in fill_modes and raw.FPDFPageObj_GetFillColor(obj, *rgba) and rgba[3].value == 0)


def read_chars(pdf_page: Any, text_page: Any, width: int, height: int) -> list[Char]:
    """Every character of the page's text layer with its glyph box in render pixels (`width` x `height`)."""
    import pypdfium2.raw as raw

    mapper = _Mapper(pdf_page, width, height)
    images = _image_boxes(pdf_page)
    index = _object_index(pdf_page) if images else {}
    hidden_objects: dict[int, bool] = {}
    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    rect = raw.FS_RECTF()
    chars: list[Char] = []
    for i in range(raw.FPDFText_CountChars(text_page)):
        code = raw.FPDFText_GetUnicode(text_page, i)
        ch = chr(code) if 0 < code < 0x110000 else "\ufffd"
        if raw.FPDFText_IsHyphen(text_page, i) or ch == "\x02":
            ch = "-"
        if ch.isspace() or raw.FPDFText_IsGenerated(text_page, i):
            chars.append(Char(" " if ch.isspace() or not ch.strip() else ch, None))
            continue
        junk = _is_junk(ch) or bool(raw.FPDFText_HasUnicodeMapError(text_page, i))
        box = loose = None
        if raw.FPDFText_GetLooseCharBox(text_page, i, rect):
            loose = mapper.box(rect.left, rect.right, rect.bottom, rect.top)
        if raw.FPDFText_GetCharBox(text_page, i, left, right, bottom, top):
            box = mapper.box(left.value, right.value, bottom.value, top.value)
        obj = raw.FPDFText_GetTextObject(text_page, i)
        address = ctypes.cast(obj, ctypes.c_void_p).value or 0
        if address not in hidden_objects:
            hidden_objects[address] = bool(obj) and _object_hidden(obj)
        hidden = hidden_objects[address] or _under_image(
            index.get(address), (left.value, bottom.value, right.value, top.value), images
        )
        chars.append(Char(ch, box, loose or box, hidden=hidden, junk=junk))
    return chars


def _under_image(
    z: int | None, bounds: tuple[float, float, float, float], images: Sequence[tuple[int, tuple[float, ...]]]
) -> bool:
    if z is None:
        return False
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    return any(iz > z and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for iz, b in images)


# --------------------------------------------------------------------------------------------------
# The trust check (pure: characters and a grey image)


def _rules(ink: np.ndarray, run: int) -> np.ndarray:
    """Ink pixels that belong to a horizontal or vertical straight run of at least `run` pixels."""
    out = np.zeros_like(ink)
    if run < 2:
        return out
    for axis in (0, 1):
        a = np.moveaxis(ink, axis, -1).astype(np.int32)
        c = np.concatenate([np.zeros((*a.shape[:-1], 1), np.int32), np.cumsum(a, axis=-1)], axis=-1)
        full = (c[..., run:] - c[..., :-run]) == run  # window starting at i is all ink
        f = np.concatenate([np.zeros((*full.shape[:-1], 1), np.int32), np.cumsum(full, axis=-1)], axis=-1)
        n = a.shape[-1]
        idx = np.arange(n)
        lo = np.clip(idx - run + 1, 0, full.shape[-1])
        hi = np.clip(idx + 1, 0, full.shape[-1])
        covered = (f[..., hi] - f[..., lo]) > 0
        out |= np.moveaxis(covered, -1, axis)
    return out


def judge(chars: Sequence[Char], grey: np.ndarray, scale: float) -> Verdict:
    """Whether the text layer `chars` (boxes in render pixels) shows what `grey` (the page at `scale` times
    the render's resolution, 0-255) shows. The reason says why not."""
    visible = [c for c in chars if c.box is not None or c.text.strip()]
    solid = [c for c in visible if c.text.strip()]
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
    ink = grey < INK_LEVEL
    ink &= ~_rules(ink, max(2, round(RULE_RUN * CHECK_DPI)))
    mask = np.zeros_like(ink)
    h, w = ink.shape
    on_ink = 0
    boxed = 0
    for c in solid:
        if c.box is None:
            continue
        boxed += 1
        x0, y0 = max(0, int(c.box[0] * scale) - 1), max(0, int(c.box[1] * scale) - 1)
        x1, y1 = min(w, int(c.box[2] * scale) + 2), min(h, int(c.box[3] * scale) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        mask[y0:y1, x0:x1] = True
        on_ink += bool(ink[y0:y1, x0:x1].any())
    total = int(ink.sum())
    coverage = float((ink & mask).sum()) / total if total else 0.0
    stats.update(coverage=round(coverage, 4), on_ink=round(on_ink / max(boxed, 1), 4))
    if boxed == 0:
        return Verdict(False, "the text layer has no glyph boxes", stats)
    if total == 0 or on_ink / boxed < MIN_CHARS_ON_INK:
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
    page = models.build_page(page_index, width, height, words, first_word_id=0)
    return PageResult(verdict, page)
