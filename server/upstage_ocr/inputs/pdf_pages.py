"""PDF inputs through pdfium: open (a damaged or locked file named as such), count and render pages.

pdfium is not thread-safe: every pypdfium2 call in this process must hold `PDFIUM_LOCK`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import CorruptDocumentError, FileTooLargeError, InputError, PageRangeError
from .images import MAX_PIXELS

if TYPE_CHECKING:
    from PIL import Image

MAX_RENDER_SIDE = 4000  # a rendered PDF page's long side is capped at this many pixels (huge-format pages)
MIN_RENDER_DPI = 50

PDFIUM_LOCK = threading.RLock()
T = TypeVar("T")
log = logging.getLogger("upstage_ocr")


def open_pdf(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise _classify_pdf_failure(path, exc) from exc


def _classify_pdf_failure(path: Path, exc: Exception) -> InputError:
    """pdfium's error codes are unreliable (a zero-page PDF reports a password error); ask pikepdf."""
    try:
        import pikepdf
    except ImportError:  # pragma: no cover - pikepdf is a dependency
        return CorruptDocumentError(f"{path.name} is not a readable PDF ({exc})", status=422)
    try:
        with pikepdf.open(path) as pdf:
            if len(pdf.pages) == 0:
                return CorruptDocumentError(f"{path.name} is a PDF with no pages", status=422)
    except pikepdf.PasswordError:
        return InputError(
            f"{path.name} is password-protected",
            hint="Remove the password first (e.g. `qpdf --decrypt --password=... in.pdf out.pdf`)",
        )
    except Exception:
        pass
    return CorruptDocumentError(f"{path.name} is a damaged PDF that cannot be opened", status=422)


def pdf_page_count(path: Path) -> int:
    with PDFIUM_LOCK:
        doc = open_pdf(path)
        try:
            count = len(doc)
        finally:
            doc.close()
    if count == 0:
        raise CorruptDocumentError(f"{path.name} is a PDF with no pages", status=422)
    return count


def _pdf_scale(width_pt: float, height_pt: float, dpi: int) -> float:
    scale = dpi / 72.0
    long_side = max(width_pt, height_pt) * scale
    if long_side > MAX_RENDER_SIDE:
        scale = max(MAX_RENDER_SIDE / max(width_pt, height_pt), MIN_RENDER_DPI / 72.0)
    return scale


def _render_pdf_page(doc: Any, index: int, dpi: int, name: str) -> Image.Image:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            page = doc[index]
            try:
                w, h = page.get_size()
                bitmap = page.render(scale=_pdf_scale(w, h, dpi), rotation=0)
                img = bitmap.to_pil()
                img = img.convert("RGB") if img.mode != "RGB" else img.copy()
                bitmap.close()
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(
                f"{name}: page {index + 1} cannot be rendered ({exc})", status=422
            ) from exc
    if img.width * img.height > MAX_PIXELS:  # pragma: no cover - prevented by MAX_RENDER_SIDE
        raise FileTooLargeError(f"{name}: page {index + 1} renders to too many pixels", status=413)
    return img


def iter_pdf(
    path: Path,
    pages: list[int],
    dpi: int,
    name: str,
    visit: Callable[[Any, int, float], T | None] | None = None,
) -> Iterator[tuple[int, Image.Image | T]]:
    """(page number, rendered page) for `pages`; with `visit`, each page is first offered to
    `visit(pdf_page, index, scale)` (under `PDFIUM_LOCK`; `scale` is the render's pixels per point): what it
    returns stands for the page, None renders it as usual. An error inside `visit` renders the page too."""
    with PDFIUM_LOCK:
        doc = open_pdf(path)
    try:
        total = len(doc)
        for number in pages:
            if not 1 <= number <= total:
                raise PageRangeError(f"page {number} is outside the document: it has {total} pages")
            found = _visit_page(doc, number, dpi, name, visit) if visit is not None else None
            yield number, found if found is not None else _render_pdf_page(doc, number - 1, dpi, name)
    finally:
        with PDFIUM_LOCK:
            doc.close()


def _visit_page(
    doc: Any, number: int, dpi: int, name: str, visit: Callable[[Any, int, float], T | None]
) -> T | None:
    with PDFIUM_LOCK:
        try:
            page = doc[number - 1]
            try:
                width, height = page.get_size()
                return visit(page, number - 1, _pdf_scale(width, height, dpi))
            finally:
                page.close()
        except Exception:
            log.warning("%s: page %d could not be read before rendering", name, number, exc_info=True)
            return None


def pdf_page_sizes(path: Path, dpi: int) -> list[tuple[int, int]]:
    """(width, height) in pixels of every page as `iter_pdf` would render it, without rendering."""
    out = []
    with PDFIUM_LOCK:
        doc = open_pdf(path)
        try:
            for i in range(len(doc)):
                w, h = doc.get_page_size(i)
                scale = _pdf_scale(w, h, dpi)
                out.append(
                    (math.ceil(w * scale - 1e-6), math.ceil(h * scale - 1e-6))
                )  # as pdfium sizes bitmaps
        finally:
            doc.close()
    return out
