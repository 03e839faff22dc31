"""Writers for OCR results: txt, md, json, csv, docx, hocr, a searchable pdf and confidence overlays.

All writers are pure functions over `models.Page` objects, which arrive as an iterable so a large job streams
page by page to the file (txt, md, json, csv, hocr and pdf never hold more than one page and its image;
docx is built in memory by python-docx). Every file is written atomically (a temp file in the same directory,
then `os.replace`) with user-only permissions (0o600).

    export(pages, fmt, out_path, page_image=..., title=..., result_meta=..., dpi=...) -> list[Path]

`page_image(i)` returns the raster of the i-th page *of the iterable* (0-based position in the stream); the
`pdf` and `overlay` formats need it. The boxes of a page are scaled onto its image, so the image may be at any
resolution.

Format notes:
- txt: each page's text as read (`Page.text`), a newline after each page, pages separated by a form feed
  (U+000C) at the start of every page but the first, as pdftotext does.
- md: `# title`, then `## Page N` per page with paragraphs rebuilt from the boxes (`reading.paragraphs`):
  lines of a paragraph on consecutive lines, a blank line between paragraphs. Markdown syntax in the text is
  backslash-escaped.
- json: the Upstage Document OCR envelope (validates as `models.OCRResult`); page ids are renumbered 0..n-1
  and word ids run on across pages, as `models.assemble` does. `result_meta` supplies envelope fields
  (modelVersion, numBilledPages, stored, ...).
- csv: one row per word (UTF-8, header row): page (1-based position), word_id, text, confidence,
  x0, y0, x1, y1 (enclosing box, pixels), then the four vertices v0_x, v0_y ... v3_x, v3_y.
- docx: one section per page, paragraphs from the md reconstruction, lines within a paragraph kept as line
  breaks.
- hocr: XHTML with ocr_page / ocr_carea / ocr_par / ocr_line / ocrx_word and `bbox ...; x_wconf NN` titles.
- pdf: each page image as the page with an invisible text layer (text render mode 3) in a font created here:
  one glyph, a full-height rectangle, mapped to every character through a ToUnicode CMap, so any script
  (Korean included) is searchable and copyable, and each word is stretched to fill its box so a selection
  covers the word in the image. Page size = image size at `dpi` (default: the image's own DPI if it carries
  one, else 150, the scale PDFs are rendered at).
- overlay: PNG of the page with every word box drawn and shaded by confidence (green = sure, yellow, red =
  unsure). One page is written to `out_path`; several pages to `<stem>.page-<n>.png` beside it, where stem
  is `out_path`'s name without `.png` and n is the 1-based position in the stream.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .. import models
from ..errors import ConfigError, InputError
from ..fsutil import atomic_open
from ..models import Page
from . import reading

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay")
DEFAULT_DPI = 150.0
JPEG_QUALITY = 85
PageImage = Callable[[int], "Image.Image"]

# Characters XML 1.0 (docx, hOCR) cannot carry.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _XML_INVALID.sub("", text)


# --------------------------------------------------------------------------------------------------
# Atomic output


# --------------------------------------------------------------------------------------------------
# The entry point


def export(
    pages: Iterable[Page],
    fmt: str,
    out_path: str | os.PathLike[str],
    *,
    page_image: PageImage | None = None,
    title: str = "",
    result_meta: dict[str, Any] | None = None,
    dpi: float | None = None,
) -> list[Path]:
    """Write `pages` in format `fmt` to `out_path`; returns the files written (several only for overlay)."""
    fmt = (fmt or "").lower().strip()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", hint=f"Choose one of: {', '.join(FORMATS)}")
    out = Path(out_path)
    if fmt in ("pdf", "overlay") and page_image is None:
        raise InputError(
            f"the {fmt} export needs the original page images, and none were given",
            hint="Export from a job whose input file still exists, or choose txt, md, json, csv, docx or hocr",
        )
    if fmt == "txt":
        return [write_txt(pages, out)]
    if fmt == "md":
        return [write_md(pages, out, title=title)]
    if fmt == "json":
        return [write_json(pages, out, result_meta=result_meta)]
    if fmt == "csv":
        return [write_csv(pages, out)]
    if fmt == "docx":
        return [write_docx(pages, out, title=title)]
    if fmt == "hocr":
        return [write_hocr(pages, out, title=title)]
    assert page_image is not None
    if fmt == "pdf":
        return [write_pdf(pages, out, page_image, title=title, dpi=dpi)]
    return write_overlays(pages, out, page_image)


# --------------------------------------------------------------------------------------------------
# txt, md


def write_txt(pages: Iterable[Page], out: Path) -> Path:
    with atomic_open(out) as fh:
        for i, page in enumerate(pages):
            if i:
                fh.write("\f")
            fh.write(page.text)
            fh.write("\n")
    return out


_MD_INLINE = re.compile(r"([\\`*_<>\[\]])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+\-=|]|\d+[.)](?=\s|$))")


def _md_escape(line: str) -> str:
    line = _MD_INLINE.sub(r"\\\1", line)
    m = _MD_LINE_START.match(line)
    if m:
        lead, mark = m.group(1), m.group(2)
        rest = line[m.end() :]
        line = f"{lead}{mark[:-1]}\\{mark[-1]}{rest}" if mark[0].isdigit() else f"{lead}\\{mark}{rest}"
    return line


def page_markdown(page: Page) -> str:
    """The page's text as Markdown paragraphs in reading order (no heading)."""
    paras = reading.paragraphs(page)
    if not paras:
        return "_(no text on this page)_"
    return "\n\n".join("\n".join(_md_escape(reading.line_text(ln)) for ln in p.lines) for p in paras)


def write_md(pages: Iterable[Page], out: Path, *, title: str = "") -> Path:
    with atomic_open(out) as fh:
        if title:
            fh.write(f"# {_md_escape(title)}\n\n")
        for i, page in enumerate(pages):
            fh.write(f"## Page {i + 1}\n\n")
            fh.write(page_markdown(page))
            fh.write("\n\n")
    return out


# --------------------------------------------------------------------------------------------------
# json


def write_json(pages: Iterable[Page], out: Path, *, result_meta: dict[str, Any] | None = None) -> Path:
    """The Upstage envelope. Pages are spooled to a temp file first so the keys keep the API's order."""
    meta = dict(result_meta or {})
    confidences: list[float] = []
    page_meta: list[dict[str, int]] = []
    texts: list[str] = []
    count = 0
    next_word = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for index, page in enumerate(pages):
            words = [w.model_copy(update={"id": next_word + i}) for i, w in enumerate(page.words)]
            next_word += len(words)
            renumbered = page.model_copy(update={"id": index, "words": words})
            if index:
                spool.write(",")
            spool.write(json.dumps(renumbered.model_dump(mode="json", by_alias=True), ensure_ascii=False))
            if page.words:
                confidences.append(page.confidence)
            page_meta.append({"height": page.height, "page": index + 1, "width": page.width})
            texts.append(page.text)
            count = index + 1
        envelope: dict[str, Any] = {
            "apiVersion": models.API_VERSION,
            "confidence": min(confidences) if confidences else 0.0,
            "metadata": {"pages": page_meta},
            "mimeType": models.MIME_TYPE,
            "modelVersion": "ocr",
            "numBilledPages": count,
            "pages": None,
            "stored": False,
            "text": "".join(texts),
        }
        for key, value in meta.items():
            if key != "pages" and value is not None:
                envelope[key] = value
        spool.seek(0)
        with atomic_open(out) as fh:
            fh.write("{")
            for n, key in enumerate(sorted(envelope)):
                if n:
                    fh.write(",")
                fh.write(json.dumps(key))
                fh.write(":")
                if key == "pages":
                    fh.write("[")
                    while chunk := spool.read(1 << 16):
                        fh.write(chunk)
                    fh.write("]")
                else:
                    fh.write(json.dumps(envelope[key], ensure_ascii=False))
            fh.write("}")
    return out


# --------------------------------------------------------------------------------------------------
# csv

CSV_HEADER = (
    "page",
    "word_id",
    "text",
    "confidence",
    "x0",
    "y0",
    "x1",
    "y1",
    *(f"v{i}_{axis}" for i in range(4) for axis in ("x", "y")),
)


def write_csv(pages: Iterable[Page], out: Path) -> Path:
    with atomic_open(out) as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for i, page in enumerate(pages):
            for w in page.words:
                x0, y0, x1, y1 = w.bbox()
                verts: list[Any] = []
                vs = list(w.boundingBox.vertices)[:4]
                for v in vs:
                    verts.extend((v.x, v.y))
                verts.extend([""] * (8 - len(verts)))
                writer.writerow([i + 1, w.id, w.text, w.confidence, x0, y0, x1, y1, *verts])
    return out


# --------------------------------------------------------------------------------------------------
# docx


def write_docx(pages: Iterable[Page], out: Path, *, title: str = "") -> Path:
    try:
        import docx
        from docx.enum.section import WD_SECTION
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("the docx export needs python-docx", hint="pip install python-docx") from exc
    document = docx.Document()
    if title:
        document.core_properties.title = _xml_safe(title)[:255]
    document.core_properties.author = "upstage-ocr"
    for i, page in enumerate(pages):
        if i:
            document.add_section(WD_SECTION.NEW_PAGE)
        paras = reading.paragraphs(page)
        if not paras:
            document.add_paragraph("")
        for para in paras:
            p = document.add_paragraph()
            for n, line in enumerate(para.lines):
                run = p.add_run(_xml_safe(reading.line_text(line)))
                if n < len(para.lines) - 1:
                    run.add_break()
    with atomic_open(out, binary=True) as fh:
        document.save(fh)
    return out


# --------------------------------------------------------------------------------------------------
# hOCR


def _attr(text: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(_xml_safe(text))


def _text(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(_xml_safe(text))


def _bbox_str(box: tuple[float, float, float, float]) -> str:
    return "bbox {} {} {} {}".format(*(round(v) for v in box))


def page_hocr(page: Page, index: int) -> str:
    """One `ocr_page` div (XHTML fragment) for page `index` (0-based)."""
    n = index + 1
    parts = [
        f'<div class="ocr_page" id="page_{n}" title="{_bbox_str((0, 0, page.width, page.height))}; '
        f'ppageno {index}">'
    ]
    for pi, para in enumerate(reading.paragraphs(page), start=1):
        pbox = _bbox_str(para.bbox)
        parts.append(f'<div class="ocr_carea" id="block_{n}_{pi}" title="{pbox}">')
        parts.append(f'<p class="ocr_par" id="par_{n}_{pi}" title="{pbox}">')
        for li, line in enumerate(para.lines, start=1):
            lbox = reading.union_bbox(line)
            size = round(lbox[3] - lbox[1])
            parts.append(
                f'<span class="ocr_line" id="line_{n}_{pi}_{li}" title="{_bbox_str(lbox)}; x_size {size}">'
            )
            for w in line:
                conf = max(0, min(100, round(w.confidence * 100)))
                title = f"{_bbox_str(reading.word_bbox(w))}; x_wconf {conf}"
                parts.append(
                    f'<span class="ocrx_word" id="word_{n}_{w.id}" title="{title}">{_text(w.text)}</span> '
                )
            parts.append("</span>\n")
        parts.append("</p>\n</div>\n")
    parts.append("</div>\n")
    return "".join(parts)


def write_hocr(pages: Iterable[Page], out: Path, *, title: str = "") -> Path:
    with atomic_open(out) as fh:
        fh.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n'
            f"<title>{_text(title or 'OCR result')}</title>\n"
            '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
            '<meta name="ocr-system" content="upstage-ocr"/>\n'
            '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"/>\n'
            "</head>\n<body>\n"
        )
        for i, page in enumerate(pages):
            fh.write(page_hocr(page, i))
        fh.write("</body>\n</html>\n")
    return out


# --------------------------------------------------------------------------------------------------
# Searchable PDF

_FONT_NAME = b"UpstageOCRInvisible"


def _checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)) & 0xFFFFFFFF


def _build_font() -> bytes:
    """A minimal TrueType font: .notdef and one glyph, a 500x1000 rectangle on the baseline (ascent 1000).

    Every character of the text layer is drawn with that glyph (CIDToGIDMap), so the font needs no coverage
    of any script; the text itself comes from the ToUnicode CMap. The glyph is never painted (mode 3) but
    gives viewers a box to highlight that covers the word.
    """
    import struct

    upm, adv, asc = 1000, 500, 1000
    glyph = struct.pack(">hhhhh", 1, 0, 0, adv, asc)  # one contour, bbox
    glyph += struct.pack(">H", 3)  # end point of the contour
    glyph += struct.pack(">H", 0)  # no instructions
    glyph += bytes([0x01] * 4)  # on-curve, 16-bit deltas
    glyph += struct.pack(">hhhh", 0, 0, adv, 0)  # x deltas: (0,0) (0,1000) (500,1000) (500,0)
    glyph += struct.pack(">hhhh", 0, asc, 0, -asc)  # y deltas (clockwise = filled)
    glyph += b"\0" * (-len(glyph) % 4)
    glyf = glyph
    loca = struct.pack(">HHH", 0, 0, len(glyph) // 2)
    head = struct.pack(
        ">IIIIHHqqhhhhHHhhh",
        0x00010000,
        0x00010000,
        0,  # checkSumAdjustment, set below
        0x5F0F3CF5,
        0x000B,
        upm,
        0,
        0,
        0,
        0,
        adv,
        asc,
        0,
        3,
        2,
        0,  # short loca
        0,
    )
    hhea = struct.pack(">IhhhHhhhhhhhhhhhH", 0x00010000, asc, 0, 0, adv, 0, 0, adv, 1, 0, 0, 0, 0, 0, 0, 0, 2)
    maxp = struct.pack(">IHHHHHHHHHHHHHH", 0x00010000, 2, 4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", adv, 0, adv, 0)
    # cmap: a format 4 subtable with only the closing segment (glyphs are reached through CIDToGIDMap)
    sub = struct.pack(">HHHHHHHHHHHH", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0)
    cmap = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + sub
    names = [(1, "UpstageOCRInvisible"), (2, "Regular"), (4, "UpstageOCRInvisible"), (6, _FONT_NAME.decode())]
    records, strings = b"", b""
    for name_id, value in names:
        raw = value.encode("utf-16-be")
        records += struct.pack(">HHHHHH", 3, 1, 0x409, name_id, len(raw), len(strings))
        strings += raw
    name = struct.pack(">HHH", 0, len(names), 6 + 12 * len(names)) + records + strings
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, 0, 0, 1, 0, 0, 0, 0)
    tables = {
        b"cmap": cmap,
        b"glyf": glyf,
        b"head": head,
        b"hhea": hhea,
        b"hmtx": hmtx,
        b"loca": loca,
        b"maxp": maxp,
        b"name": name,
        b"post": post,
    }
    num = len(tables)
    entry_selector = int(math.log2(num))
    search_range = (2**entry_selector) * 16
    header = struct.pack(">IHHHH", 0x00010000, num, search_range, entry_selector, num * 16 - search_range)
    offset = len(header) + 16 * num
    directory, body = b"", b""
    for tag in sorted(tables):
        data = tables[tag]
        directory += struct.pack(">4sIII", tag, _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = header + directory + body
    adjustment = (0xB1B0AFBA - _checksum(font)) & 0xFFFFFFFF
    head_offset = offset + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in sorted(tables) if t < b"head")
    return font[: head_offset + 8] + struct.pack(">I", adjustment) + font[head_offset + 12 :]


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _pdf_string(text: str) -> bytes:
    """A PDF text string (UTF-16BE with BOM) as a hex literal."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _image_dpi(image: Image.Image) -> float | None:
    dpi: Any = image.info.get("dpi")
    if isinstance(dpi, tuple | list):
        dpi = dpi[0] if dpi else None
    try:
        value = float(dpi)
    except (TypeError, ValueError, IndexError):
        return None
    # PNG stores pixels per metre, so 150 dpi reads back as 150.01: whole numbers are what was meant
    value = float(round(value))
    return value if 50 <= value <= 1200 else None


def _encode_image(image: Image.Image) -> tuple[bytes, bytes]:
    """(image dictionary entries, stream data) for a page image: 1-bit as Flate, anything else as JPEG."""
    from PIL import Image as PILImage

    if image.mode == "1":
        data = zlib.compress(image.tobytes(), 6)
        return b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode", data
    if image.mode not in ("L", "RGB"):
        if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = PILImage.alpha_composite(background, rgba).convert("RGB")
        elif image.mode in ("I", "I;16", "F"):
            image = image.convert("L")
        else:
            image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    space = b"/DeviceGray" if image.mode == "L" else b"/DeviceRGB"
    return b"/ColorSpace " + space + b" /BitsPerComponent 8 /Filter /DCTDecode", buf.getvalue()


class _PdfWriter:
    """A PDF written front to back: objects go out as pages arrive; the page tree and the font's character
    maps (which grow with the text) are written last, at object numbers reserved up front."""

    CATALOG, PAGES, FONT, CIDFONT, DESCRIPTOR, FONTFILE, TOUNICODE, CIDTOGID, INFO = range(1, 10)

    def __init__(self, fh: IO[bytes], title: str = ""):
        self.fh = fh
        self.pos = 0
        self.offsets: dict[int, int] = {}
        self.next_id = 10
        self.kids: list[int] = []
        self.cids: dict[str, int] = {}
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._obj(self.CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")
        info = b"<< /Producer (upstage-ocr)"
        if title:
            info += b" /Title " + _pdf_string(title)
        self._obj(self.INFO, info + b" >>")
        font = _build_font()
        self._obj(
            self.FONT,
            b"<< /Type /Font /Subtype /Type0 /BaseFont /" + _FONT_NAME + b" /Encoding /Identity-H"
            b" /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>",
        )
        self._obj(
            self.CIDFONT,
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /" + _FONT_NAME + b" /CIDSystemInfo"
            b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 5 0 R"
            b" /DW 500 /CIDToGIDMap 8 0 R >>",
        )
        self._obj(
            self.DESCRIPTOR,
            b"<< /Type /FontDescriptor /FontName /" + _FONT_NAME + b" /Flags 4 /FontBBox [0 0 500 1000]"
            b" /ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 6 0 R >>",
        )
        self._stream(self.FONTFILE, b"/Length1 %d" % len(font), font)

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.pos += len(data)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _obj(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.pos
        self._write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    def _stream(self, num: int, entries: bytes, data: bytes, *, compress: bool = True) -> None:
        if compress:
            data = zlib.compress(data, 6)
            entries = entries + b" /Filter /FlateDecode"
        self.offsets[num] = self.pos
        self._write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (num, entries, len(data)))
        self._write(data)
        self._write(b"\nendstream\nendobj\n")

    def _encode(self, text: str) -> bytes:
        out = []
        for ch in text:
            cid = self.cids.get(ch)
            if cid is None:
                cid = len(self.cids) + 1 if len(self.cids) < 0xFFFE else self.cids.get("\ufffd", 1)
                self.cids.setdefault(ch, cid)
            out.append(b"%04X" % cid)
        return b"<" + b"".join(out) + b">"

    def add_page(self, page: Page, image: Image.Image, dpi: float) -> None:
        scale = 72.0 / dpi
        width_pt, height_pt = image.width * scale, image.height * scale
        sx = width_pt / page.width if page.width > 0 else scale
        sy = height_pt / page.height if page.height > 0 else scale
        entries, data = _encode_image(image)
        image_id = self._new_id()
        self._stream(
            image_id,
            b"/Type /XObject /Subtype /Image /Width %d /Height %d " % (image.width, image.height) + entries,
            data,
            compress=False,
        )
        ops = [f"q {_num(width_pt)} 0 0 {_num(height_pt)} 0 0 cm /Im0 Do Q".encode(), b"BT 3 Tr /F1 1 Tf"]
        for line in reading.text_lines(page):
            placed = [(w, g) for w in line if w.text and (g := _word_geometry(w, sx, sy, height_pt))]
            for i, (word, (x, y, cos, sin, length, height)) in enumerate(placed):
                space = 0.0
                if i + 1 < len(placed):
                    # a space up to the next word keeps the word break in extracted text; words whose boxes
                    # touch or overlap are shortened a little to make room for it
                    nx, ny = placed[i + 1][1][:2]
                    advance = (nx - x) * cos + (ny - y) * sin
                    space = min(max(advance - length, 0.2 * height), height)
                    if advance > 0 and length + space > advance:
                        length = max(advance - space, 0.6 * length)
                ops.append(self._show(word.text, x, y, cos, sin, length, height))
                if space:
                    ops.append(self._show(" ", x + length * cos, y + length * sin, cos, sin, space, height))
        ops.append(b"ET")
        content_id = self._new_id()
        self._stream(content_id, b"", b"\n".join(ops))
        page_id = self._new_id()
        self._obj(
            page_id,
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(width_pt)} {_num(height_pt)}]"
                f" /Resources << /XObject << /Im0 {image_id} 0 R >> /Font << /F1 3 0 R >> >>"
                f" /Contents {content_id} 0 R >>"
            ).encode(),
        )
        self.kids.append(page_id)

    def _show(
        self, text: str, x: float, y: float, cos: float, sin: float, length: float, height: float
    ) -> bytes:
        # font size 1: each glyph advances 0.5 unit, so scale x by length / (0.5 * chars), y by the height
        stretch = length / (0.5 * max(len(text), 1))
        matrix = (stretch * cos, stretch * sin, -height * sin, height * cos, x, y)
        return " ".join(_num(v) for v in matrix).encode() + b" Tm " + self._encode(text) + b" Tj"

    def close(self) -> None:
        # ToUnicode: CID -> the character, in blocks of at most 100 entries
        lines = [
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        items = sorted((cid, ch) for ch, cid in self.cids.items())
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            lines.append(b"%d beginbfchar" % len(chunk))
            for cid, ch in chunk:
                lines.append(b"<%04X> <%s>" % (cid, ch.encode("utf-16-be").hex().upper().encode()))
            lines.append(b"endbfchar")
        lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
        self._stream(self.TOUNICODE, b"", b"\n".join(lines))
        top = max(self.cids.values(), default=0)
        self._stream(self.CIDTOGID, b"", b"\x00\x01" * (top + 1))
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self._obj(self.PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.kids)))
        xref_at = self.pos
        count = self.next_id
        rows = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        for num in range(1, count):
            rows.append(b"%010d 00000 n \n" % self.offsets[num])
        self._write(b"".join(rows))
        self._write(
            b"trailer\n<< /Size %d /Root 1 0 R /Info 9 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref_at)
        )


def _word_geometry(
    word: models.Word, sx: float, sy: float, height_pt: float
) -> tuple[float, float, float, float, float, float] | None:
    """(x, y of the baseline start in pt, cos, sin of the baseline angle, length, height) of a word box."""
    verts = [(float(v.x), float(v.y)) for v in word.boundingBox.vertices]
    if not verts:
        return None
    x0, y0, x1, y1 = (float(v) for v in word.bbox())
    angle = 0.0
    if len(verts) == 4:
        (ax, ay), (bx, by) = verts[0], verts[1]
        if bx - ax or by - ay:
            angle = math.atan2(-(by - ay) * sy, (bx - ax) * sx)  # PDF y goes up
    if abs(angle) < math.radians(5):
        length = max((x1 - x0) * sx, 0.5)
        height = max((y1 - y0) * sy, 0.5)
        return (x0 * sx, height_pt - y1 * sy, 1.0, 0.0, length, height)
    pts = [(px * sx, height_pt - py * sy) for px, py in verts]
    tl, tr, br, bl = pts
    length = max((math.dist(tl, tr) + math.dist(bl, br)) / 2, 0.5)
    height = max((math.dist(tl, bl) + math.dist(tr, br)) / 2, 0.5)
    return (bl[0], bl[1], math.cos(angle), math.sin(angle), length, height)


def write_pdf(
    pages: Iterable[Page], out: Path, page_image: PageImage, *, title: str = "", dpi: float | None = None
) -> Path:
    """A searchable PDF: page images with an invisible, selectable text layer, written page by page."""
    with atomic_open(out, binary=True) as fh:
        writer = _PdfWriter(fh, title)
        for i, page in enumerate(pages):
            image = page_image(i)
            writer.add_page(page, image, dpi or _image_dpi(image) or DEFAULT_DPI)
        if not writer.kids:
            raise InputError("there are no pages to write to the PDF", hint="Check the page range")
        writer.close()
    return out


# --------------------------------------------------------------------------------------------------
# Confidence overlay


def confidence_color(confidence: float) -> tuple[int, int, int]:
    """Green at 1.0, yellow at 0.75, red at 0.5 and below."""
    t = min(max((float(confidence) - 0.5) / 0.5, 0.0), 1.0)
    red = round(230 * min(1.0, 2 * (1 - t)))
    green = round(200 * min(1.0, 2 * t))
    return (red, green, 0)


def render_overlay(page: Page, image: Image.Image) -> Image.Image:
    """`image` (the page raster) with each word's box outlined and filled semi-transparently by confidence."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    base = image.convert("RGBA")
    layer = PILImage.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    kx = base.width / page.width if page.width > 0 else 1.0
    ky = base.height / page.height if page.height > 0 else 1.0
    line = max(1, round(min(base.size) / 600))
    for w in page.words:
        pts = [(float(v.x) * kx, float(v.y) * ky) for v in w.boundingBox.vertices]
        if len(pts) < 3:
            x0, y0, x1, y1 = w.bbox()
            pts = [(x0 * kx, y0 * ky), (x1 * kx, y0 * ky), (x1 * kx, y1 * ky), (x0 * kx, y1 * ky)]
        r, g, b = confidence_color(w.confidence)
        draw.polygon(pts, fill=(r, g, b, 70), outline=(r, g, b, 255), width=line)
    return PILImage.alpha_composite(base, layer).convert("RGB")


def _overlay_stem(out: Path) -> str:
    return out.name[:-4] if out.name.lower().endswith(".png") else out.name


def overlay_paths(out: Path, count: int) -> list[Path]:
    """Where `write_overlays` puts `count` pages: `out` itself for one, `<stem>.page-<n>.png` for several."""
    if count == 1:
        return [out]
    return [out.with_name(f"{_overlay_stem(out)}.page-{n}.png") for n in range(1, count + 1)]


def write_overlays(pages: Iterable[Page], out: Path, page_image: PageImage) -> list[Path]:
    """One PNG per page (see `overlay_paths`). Pages are rendered one at a time."""
    it = iter(pages)
    first = next(it, None)
    if first is None:
        raise InputError("there are no pages to draw an overlay for", hint="Check the page range")
    second = next(it, None)
    if second is None:
        return [_one_overlay(first, 0, out, page_image)]
    stem = _overlay_stem(out)
    return [
        _one_overlay(page, i, out.with_name(f"{stem}.page-{i + 1}.png"), page_image)
        for i, page in enumerate(itertools.chain((first, second), it))
    ]


def _one_overlay(page: Page, index: int, target: Path, page_image: PageImage) -> Path:
    with atomic_open(target, binary=True) as fh:
        render_overlay(page, page_image(index)).save(fh, format="PNG")
    return target
