"""The characters of a PDF page's text layer, read with pdfium: text, glyph boxes in render pixels, and
whether each is hidden (invisible render mode, transparent, or under an image drawn after it) or junk.

Every function here expects the caller to hold `documents.PDFIUM_LOCK`.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]  # left, top, right, bottom in render pixels


@dataclass(slots=True)
class Char:
    text: str
    box: Box | None  # the glyph's ink box; None for characters without one (spaces, generated breaks)
    loose: Box | None = None  # the font's box (ascent to descent): one height for every glyph of a line
    hidden: bool = False  # invisible render mode, transparent, or under an image
    junk: bool = False


def is_junk(ch: str) -> bool:
    if ch == "\ufffd":
        return True
    cat = unicodedata.category(ch)
    return cat in ("Co", "Cs", "Cn") or (cat == "Cc" and not ch.isspace())


def _affine(pdf_page: Any, width: int, height: int) -> np.ndarray:
    """The 2x3 map from page space (points, y up) to the pixels of the `width` x `height` render (rotation 0),
    as pypdfium2 renders: pdfium's own mapping (CropBox origin and /Rotate included), to 1/64 px."""
    import pypdfium2.raw as raw

    k = 64  # map into a 64x larger device so pdfium's integer results keep 1/64 px precision
    dx, dy = ctypes.c_int(), ctypes.c_int()

    def dev(x: float, y: float) -> tuple[float, float]:
        raw.FPDF_PageToDevice(pdf_page, 0, 0, width * k, height * k, 0, x, y, dx, dy)
        return dx.value / k, dy.value / k

    ox, oy = dev(0.0, 0.0)
    ax, ay = dev(1000.0, 0.0)
    bx, by = dev(0.0, 1000.0)
    return np.array(
        [[(ax - ox) / 1000.0, (bx - ox) / 1000.0, ox], [(ay - oy) / 1000.0, (by - oy) / 1000.0, oy]]
    )


def _map_boxes(m: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Page-space boxes (left, right, bottom, top) as pixel boxes (left, top, right, bottom)."""
    xs = boxes[:, [0, 1, 0, 1]]
    ys = boxes[:, [2, 3, 3, 2]]
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return np.stack([px.min(1), py.min(1), px.max(1), py.max(1)], axis=1)


RULE_WIDTH_PT = 2.0  # a path at most this thick ...
RULE_LENGTH_PT = 18.0  # ... and at least this long (a quarter inch) is a rule, not text drawn as outlines
DARK = 128  # text whose fill is at most this light (0-255 luminance) is ink on any light page
LIGHT = 240  # a path at least this light drawn under all the text is a background


@dataclass
class Drawing:
    """What a page draws, from its page objects (no render)."""

    # (z-order, page-space bounds) of the top-level images
    images: list[tuple[int, tuple[float, float, float, float]]]
    # some text is drawn invisibly (render modes 3/7) or fully transparent
    hidden: bool
    # only opaque dark unclipped text is drawn, with rules and light backgrounds beneath it, and no annotation
    # but links
    text_only: bool


def _luminance(get_colour: Any, obj: Any) -> tuple[float, int] | None:
    """(0-255 luminance, alpha) of an object's fill or stroke colour; None when pdfium cannot say."""
    r, g, b, a = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    if not get_colour(obj, r, g, b, a):
        return None
    return (0.299 * r.value + 0.587 * g.value + 0.114 * b.value, a.value)


def _text_state(obj: Any) -> tuple[bool, bool]:
    """(hidden, plain) of a text object, from one read of its render mode and fill colour. Hidden: drawn
    invisibly (render modes 3 and 7) or with a fully transparent fill. Plain: drawn as ordinary ink, filled
    (and maybe stroked), opaque, dark, and not clipped."""
    import pypdfium2.raw as raw

    mode = raw.FPDFTextObj_GetTextRenderMode(obj)
    if mode in (raw.FPDF_TEXTRENDERMODE_INVISIBLE, raw.FPDF_TEXTRENDERMODE_CLIP):
        return True, False
    filled = mode in (raw.FPDF_TEXTRENDERMODE_FILL, raw.FPDF_TEXTRENDERMODE_FILL_CLIP)
    if not filled and mode != raw.FPDF_TEXTRENDERMODE_FILL_STROKE:
        return False, False
    fill = _luminance(raw.FPDFPageObj_GetFillColor, obj)
    hidden = filled and fill is not None and fill[1] == 0
    if mode == raw.FPDF_TEXTRENDERMODE_FILL_CLIP or fill is None or fill[0] > DARK or fill[1] < 255:
        return hidden, False
    clip = raw.FPDFPageObj_GetClipPath(obj)
    return hidden, not clip or raw.FPDFClipPath_CountPaths(clip) <= 0


def _path_kind(obj: Any) -> str:
    """ "rule" (thin and long), "blank" (neither filled nor stroked), "light" (filled and stroked only in light
    colours) or "other"."""
    import pypdfium2.raw as raw

    bounds = [ctypes.c_float() for _ in range(4)]
    if raw.FPDFPageObj_GetBounds(obj, *bounds):
        x0, y0, x1, y1 = (v.value for v in bounds)
        if min(x1 - x0, y1 - y0) <= RULE_WIDTH_PT and max(x1 - x0, y1 - y0) >= RULE_LENGTH_PT:
            return "rule"
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    if not raw.FPDFPath_GetDrawMode(obj, fill_mode, stroke):
        return "other"
    if fill_mode.value == raw.FPDF_FILLMODE_NONE and not stroke.value:
        return "blank"
    for drawn, get in (
        (fill_mode.value != raw.FPDF_FILLMODE_NONE, raw.FPDFPageObj_GetFillColor),
        (bool(stroke.value), raw.FPDFPageObj_GetStrokeColor),
    ):
        colour = _luminance(get, obj) if drawn else None
        if drawn and (colour is None or colour[0] < LIGHT):
            return "other"
    return "light"


def _scan_objects(pdf_page: Any) -> Drawing:
    """The page's `Drawing`: its top-level images, whether any text object (also inside form XObjects) is
    drawn invisibly, and whether it draws nothing but plain text over light backgrounds and rules."""
    import pypdfium2.raw as raw

    images = []
    hidden = False
    plain = True  # every text object is plain, and nothing else is drawn but rules and blank paths
    first_text = last_light = -1  # z-order of the first text object, of the last light path
    bounds = [ctypes.c_float() for _ in range(4)]
    stack = [
        (raw.FPDFPage_GetObject(pdf_page, i), i, True) for i in range(raw.FPDFPage_CountObjects(pdf_page))
    ]
    stack.reverse()  # z-order
    while stack:
        obj, z, top = stack.pop()
        kind = raw.FPDFPageObj_GetType(obj)
        if kind == raw.FPDF_PAGEOBJ_TEXT:
            text_hidden, text_plain = _text_state(obj)
            hidden = hidden or text_hidden
            plain = plain and text_plain
            first_text = z if first_text < 0 else first_text
        elif kind == raw.FPDF_PAGEOBJ_FORM:
            children = [
                (raw.FPDFFormObj_GetObject(obj, j), z, False)
                for j in range(raw.FPDFFormObj_CountObjects(obj))
            ]
            stack.extend(reversed(children))
        elif kind == raw.FPDF_PAGEOBJ_PATH and plain:
            path = _path_kind(obj)
            if path == "light":
                last_light = z
            elif path == "other":
                plain = False
        else:
            plain = False
            if kind == raw.FPDF_PAGEOBJ_IMAGE and top and raw.FPDFPageObj_GetBounds(obj, *bounds):
                x0, y0, x1, y1 = (v.value for v in bounds)
                images.append((z, (x0, y0, x1, y1)))
    text_only = plain and not hidden and first_text >= 0 and last_light < first_text
    return Drawing(images, hidden, text_only and not _draws_annotations(pdf_page))


def _draws_annotations(pdf_page: Any) -> bool:
    """The page has annotations that may draw on it (a render shows them: form field values, stamps, notes),
    not only links."""
    import pypdfium2.raw as raw

    for i in range(max(0, raw.FPDFPage_GetAnnotCount(pdf_page))):
        annot = raw.FPDFPage_GetAnnot(pdf_page, i)
        if not annot:
            return True
        try:
            kind = raw.FPDFAnnot_GetSubtype(annot)
        finally:
            raw.FPDFPage_CloseAnnot(annot)
        if kind not in (raw.FPDF_ANNOT_LINK, raw.FPDF_ANNOT_POPUP):
            return True
    return False


def _object_index(pdf_page: Any) -> dict[int, int]:
    import pypdfium2.raw as raw

    return {
        ctypes.cast(raw.FPDFPage_GetObject(pdf_page, i), ctypes.c_void_p).value or 0: i
        for i in range(raw.FPDFPage_CountObjects(pdf_page))
    }


def _page_text(text_page: Any, count: int) -> list[str]:
    """One string per character index (pdfium's UTF-16 text, one unit per index; surrogates asked for)."""
    import pypdfium2.raw as raw

    buf = (ctypes.c_ushort * (count + 1))()
    raw.FPDFText_GetText(text_page, 0, count, buf)
    out = []
    for i, unit in enumerate(buf[:count]):
        if 0xD800 <= unit <= 0xDFFF or unit in (0, 2, 0xFFFE):  # 0xFFFE: a line-end hyphen
            code = raw.FPDFText_GetUnicode(text_page, i)
            unit = code if 0 < code < 0x110000 else 0xFFFD
            if unit == 2 or raw.FPDFText_IsHyphen(text_page, i):
                unit = 0x2D  # a soft hyphen at a line end, shown as "-"
        out.append(chr(unit))
    return out


@functools.cache
def _unchecked(name: str) -> Any:
    """pdfium's function `name` without ctypes' argument conversion, called holding the GIL: a call costs a
    third of the checked binding's (pypdfium2's `raw`), which counts at three calls per character, and does
    not hand the GIL to the event loop's thread and back on every call. Only for functions that return at
    once. Callers pass exactly the C types (the handle pypdfium2 gave, an int, `ctypes.byref` of the
    out-parameters); the result is a C int. Falls back to the checked binding where pypdfium2's loader is
    laid out differently."""
    import pypdfium2.raw as raw

    try:
        from pypdfium2_raw.bindings import _libs

        lib = _libs["pdfium"]
        # the library pypdfium2 loaded, as a PyDLL: fresh function pointers, no argtypes, the GIL kept
        return ctypes.PyDLL(lib._name, handle=lib._handle)[name]
    except (ImportError, KeyError, AttributeError, TypeError):  # pragma: no cover - another pypdfium2 layout
        return getattr(raw, name)


@dataclass
class Layer:
    """A page's text layer as arrays: what `read_chars` gives, without an object per character.

    `text` has one string per character index (whitespace as " "); the other fields describe the *solid*
    characters (not whitespace, with a glyph box) in index order: `index` their character indices, `box` and
    `loose` their ink and font boxes in render pixels (left, top, right, bottom; n x 4), `hidden` and `junk`
    their flags.
    """

    text: list[str]
    index: np.ndarray
    box: np.ndarray
    loose: np.ndarray
    hidden: np.ndarray
    junk: np.ndarray
    text_only: bool = False  # the page draws nothing but this text (plain), rules and light backgrounds

    @classmethod
    def of_chars(cls, chars: Sequence[Char]) -> Layer:
        solid = [(i, c) for i, c in enumerate(chars) if c.box is not None and not c.text.isspace()]
        return cls(
            text=[" " if c.text.isspace() else c.text for c in chars],
            index=np.array([i for i, _ in solid], dtype=np.int64),
            box=np.array([c.box for _, c in solid], dtype=float).reshape(-1, 4),
            loose=np.array([c.loose or c.box for _, c in solid], dtype=float).reshape(-1, 4),
            hidden=np.array([c.hidden for _, c in solid], dtype=bool),
            junk=np.array([c.junk for _, c in solid], dtype=bool),
        )

    def chars(self) -> list[Char]:
        out = [Char(t, None) for t in self.text]
        boxes, looses = self.box.tolist(), self.loose.tolist()
        for j, i in enumerate(self.index.tolist()):
            out[i] = Char(
                self.text[i], tuple(boxes[j]), tuple(looses[j]), bool(self.hidden[j]), bool(self.junk[j])
            )
        return out


def read_chars(pdf_page: Any, text_page: Any, width: int, height: int) -> list[Char]:
    """Every character of the page's text layer with its glyph box in render pixels (`width` x `height`)."""
    return read_layer(pdf_page, text_page, width, height).chars()


def read_layer(pdf_page: Any, text_page: Any, width: int, height: int) -> Layer:
    """The page's text layer (`Layer`), glyph boxes in the pixels of its `width` x `height` render."""
    import pypdfium2.raw as raw

    count = raw.FPDFText_CountChars(text_page)
    text = _page_text(text_page, count) if count > 0 else []
    drawing = _scan_objects(pdf_page) if count > 0 else Drawing([], False, False)
    images, any_hidden = drawing.images, drawing.hidden
    # per character: three calls into pdfium, unchecked and looked up once (see `_unchecked`)
    get_box, get_loose, map_error = (
        _unchecked("FPDFText_GetCharBox"),
        _unchecked("FPDFText_GetLooseCharBox"),
        _unchecked("FPDFText_HasUnicodeMapError"),
    )
    box = (ctypes.c_double * 4)()  # left, right, bottom, top, as FPDFText_GetCharBox writes them
    r0, r1, r2, r3 = (ctypes.byref(box, 8 * k) for k in range(4))
    rect = (ctypes.c_float * 4)()  # an FS_RECTF: left, top, right, bottom
    rect_ref = ctypes.byref(rect)
    # the boxes read out of those two buffers
    doubles, floats = struct.Struct("4d").unpack_from, struct.Struct("4f").unpack_from
    solid: list[int] = []
    tight: list[float] = []  # left, right, bottom, top (page space) of each solid character, flat
    loose: list[float] = []  # left, top, right, bottom (page space, an FS_RECTF) of each, flat
    unmapped: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace() or not get_box(text_page, i, r0, r1, r2, r3):
            continue
        bounds = doubles(box)
        tight += bounds
        loose += (
            floats(rect)
            if get_loose(text_page, i, rect_ref)
            else (bounds[0], bounds[3], bounds[1], bounds[2])
        )
        unmapped.append(map_error(text_page, i))
        solid.append(i)
    text = [" " if ch.isspace() else ch for ch in text]
    junk_of = {ch: is_junk(ch) for ch in set(text)}
    junk = np.array([junk_of[text[i]] for i in solid], dtype=bool) | np.array(unmapped, dtype=bool)
    if any_hidden or images:
        hidden = _hidden_chars(pdf_page, text_page, solid, tight, images)
    else:
        hidden = np.zeros(len(solid), dtype=bool)
    m = _affine(pdf_page, width, height)
    return Layer(
        text=text,
        index=np.array(solid, dtype=np.int64),
        box=_map_boxes(m, np.array(tight, dtype=float).reshape(-1, 4)),
        loose=_map_boxes(m, np.array(loose, dtype=float).reshape(-1, 4)[:, [0, 2, 3, 1]]),
        hidden=hidden,
        junk=junk,
        text_only=drawing.text_only,
    )


def _hidden_chars(
    pdf_page: Any,
    text_page: Any,
    solid: list[int],
    tight: list[float],
    images: Sequence[tuple[int, tuple[float, float, float, float]]],
) -> np.ndarray:
    """Which of the `solid` characters (page-space boxes `tight`, flat left, right, bottom, top) are drawn
    invisibly or under an image drawn after them."""
    import pypdfium2.raw as raw

    index = _object_index(pdf_page) if images else {}
    hidden_objects: dict[int, bool] = {}
    out = np.zeros(len(solid), dtype=bool)
    for k, i in enumerate(solid):
        obj = raw.FPDFText_GetTextObject(text_page, i)
        address = ctypes.cast(obj, ctypes.c_void_p).value or 0
        if address not in hidden_objects:
            hidden_objects[address] = bool(obj) and _text_state(obj)[0]
        bounds = (tight[4 * k], tight[4 * k + 1], tight[4 * k + 2], tight[4 * k + 3])
        out[k] = hidden_objects[address] or _under_image(index.get(address), bounds, images)
    return out


def _under_image(
    z: int | None, bounds: tuple[float, float, float, float], images: Sequence[tuple[int, tuple[float, ...]]]
) -> bool:
    if z is None:
        return False
    cx, cy = (bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2  # (left, right, bottom, top)
    return any(iz > z and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for iz, b in images)
