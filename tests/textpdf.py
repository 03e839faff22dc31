"""PDFs with real text layers for the tests, written with pdfium itself (no other PDF writer needed).

`TextPdf` places text objects (Helvetica, or Noto Sans CJK for CJK text when the font is installed) and
images on pages, with any text render mode, so tests can build born-digital pages, scans, scans with an
invisible OCR layer, scans with a digital footer and mixed documents. `ink_box` finds where a render puts
the ink around a box, to check text-layer boxes against what OCR would see.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)


def cjk_font() -> Path | None:
    return next((Path(p) for p in CJK_FONTS if Path(p).exists()), None)


class TextPdf:
    """A new PDF built page by page: `page()`, then `text()`/`image()` on it; `save()` at the end."""

    def __init__(self) -> None:
        import pypdfium2 as pdfium
        import pypdfium2.raw as raw

        self._raw = raw
        self.doc = pdfium.PdfDocument.new()
        self._fonts: dict[str, Any] = {}
        self._font_data: list[Any] = []  # pdfium keeps pointers into these buffers until the save
        self.page: Any = None

    def new_page(self, width: float = 595, height: float = 842) -> TextPdf:
        if self.page is not None:
            self.page.gen_content()
        self.page = self.doc.new_page(width, height)
        return self

    def _font(self, name: str) -> Any:
        raw = self._raw
        if name not in self._fonts:
            if name == "cjk":
                path = cjk_font()
                assert path is not None, "Noto Sans CJK is not installed"
                data = path.read_bytes()
                buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
                self._font_data.append(buf)
                self._fonts[name] = raw.FPDFText_LoadFont(
                    self.doc.raw, buf, len(data), raw.FPDF_FONT_TRUETYPE, True
                )
            else:
                self._fonts[name] = raw.FPDFText_LoadStandardFont(self.doc.raw, name.encode())
        return self._fonts[name]

    def text(
        self,
        text: str,
        x: float,
        y: float,
        size: float = 12,
        *,
        font: str = "Helvetica",
        mode: int | None = None,
    ) -> TextPdf:
        """`text` with its baseline starting at (x, y) in points from the bottom-left; `mode` a render mode."""
        raw = self._raw
        obj = raw.FPDFPageObj_CreateTextObj(self.doc.raw, self._font(font), size)
        encoded = (text + "\0").encode("utf-16-le")
        buf = ctypes.create_string_buffer(encoded, len(encoded))
        raw.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(raw.FPDF_WCHAR)))
        if mode is not None:
            raw.FPDFTextObj_SetTextRenderMode(obj, mode)
        raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
        raw.FPDFPage_InsertObject(self.page.raw, obj)
        return self

    def image(
        self, image: Image.Image, x: float = 0, y: float = 0, w: float | None = None, h: float | None = None
    ) -> TextPdf:
        """`image` drawn at (x, y) (bottom-left, points), `w` x `h` points (default: the whole page)."""
        import pypdfium2 as pdfium

        w = self.page.get_width() if w is None else w
        h = self.page.get_height() if h is None else h
        obj = pdfium.PdfImage.new(self.doc)
        bitmap = pdfium.PdfBitmap.from_pil(image.convert("RGB"))
        obj.set_bitmap(bitmap)
        obj.set_matrix(pdfium.PdfMatrix().scale(w, h).translate(x, y))
        self.page.insert_obj(obj)
        return self

    def save(self, path: Path) -> Path:
        if self.page is not None:
            self.page.gen_content()
        self.doc.save(str(path))
        self.doc.close()
        return path


def text_image(lines: list[str], size: tuple[int, int] = (1240, 1754), font_px: int = 28) -> Image.Image:
    """A scan-like page image with `lines` of dark text (DejaVu Sans when available)."""
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    try:
        font: Any = ImageFont.truetype("DejaVuSans.ttf", font_px)
    except OSError:
        font = ImageFont.load_default()
    for i, line in enumerate(lines):
        draw.text((150, 150 + i * 2 * font_px), line, fill=(20, 20, 20), font=font)
    return img


def render_grey(pdf: Path, page: int = 1, dpi: int = 150) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        bitmap = doc[page - 1].render(scale=dpi / 72, grayscale=True)
        arr = np.array(bitmap.to_numpy())
    finally:
        doc.close()
    return arr[..., 0] if arr.ndim == 3 else arr


def ink_box(
    grey: np.ndarray, box: tuple[float, float, float, float], margin: int = 6
) -> tuple[int, int, int, int]:
    """The bounding box (left, top, right, bottom; right/bottom exclusive) of the ink near `box`."""
    left, top = max(0, int(box[0]) - margin), max(0, int(box[1]) - margin)
    crop = grey[top : int(box[3]) + margin, left : int(box[2]) + margin] < 200
    ys, xs = np.nonzero(crop)
    assert len(xs), f"no ink near {box}"
    return (left + int(xs.min()), top + int(ys.min()), left + int(xs.max()) + 1, top + int(ys.max()) + 1)
