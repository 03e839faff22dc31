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
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from .. import models
from ..errors import ConfigError, InputError
from ..fsutil import atomic_open
from ..models import Page
from ..vocab import EXPORT_FORMATS
from . import reading

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_DPI = 150.0
JPEG_QUALITY = 85
PageImage = Callable[[int], "Image.Image"]

# Characters XML 1.0 (docx, hOCR) cannot carry.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _XML_INVALID.sub("", text)


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
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(
            f"unknown export format {fmt!r}", hint=f"Choose one of: {', '.join(EXPORT_FORMATS)}"
        )
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
        from .pdf import write_pdf

        return [write_pdf(pages, out, page_image, title=title, dpi=dpi)]
    from .overlay import write_overlays

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


def write_json(
    pages: Iterable[Page | dict[str, Any]], out: Path, *, result_meta: dict[str, Any] | None = None
) -> Path:
    """The Upstage envelope. Pages are spooled to a temp file first so the keys keep the API's order.

    A page may also come as its JSON data (a `Page` dumped, as the job store keeps it): it is renumbered as a
    dict and written back without being turned into models, which is what makes writing a large result cheap.
    """
    meta = dict(result_meta or {})
    confidences: list[float] = []
    page_meta: list[dict[str, Any]] = []
    texts: list[str] = []
    count = 0
    next_word = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for index, page in enumerate(pages):
            data = page if isinstance(page, dict) else page.model_dump(mode="json", by_alias=True)
            page_meta.append(models.page_meta(data, index + 1))
            data.pop("source", None)  # said in the metadata, not in the page
            data["id"] = index
            words = data.get("words") or []
            for i, word in enumerate(words):
                word["id"] = next_word + i
            next_word += len(words)
            if index:
                spool.write(",")
            spool.write(to_json(data).decode())
            if words:
                confidences.append(data["confidence"])
            texts.append(data["text"])
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
