"""The searchable PDF export: each page image as a page, with an invisible text layer laid word by word.

The text is drawn in text render mode 3 (invisible) in a font made here: one glyph, a full-height rectangle,
mapped to every character through a ToUnicode CMap, so any script (Korean included) is searchable and
copyable; each word is stretched to fill its box so a selection covers the word in the image. Pages are
written one at a time (one image in memory).
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .. import models
from ..errors import InputError
from ..fsutil import atomic_open
from ..models import Page
from . import reading

if TYPE_CHECKING:
    from PIL import Image

    from .writers import PageImage

DEFAULT_DPI = 150.0
JPEG_QUALITY = 85


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
    return _sfnt(_font_tables())


def _font_tables() -> dict[bytes, bytes]:
    """The TrueType tables of the one-glyph font, by tag."""
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
    return {
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


def _sfnt(tables: dict[bytes, bytes]) -> bytes:
    """A TrueType file of `tables`: the table directory, padded tables, the head checksum adjustment."""
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
