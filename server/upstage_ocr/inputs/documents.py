"""Input documents: what a file is (by its magic bytes), whether we may process it, and its pages as images.

`inspect_document` checks everything that can be checked cheaply before any OCR work (type, size, sha256,
page count, pixel limits, decodability) and raises the matching `errors` class. `iter_page_images` then
renders the pages one at a time, so a 1,000-page PDF never needs more than one raster in memory.
Each kind of file has its own module: `images.py` (rasters), `pdf_pages.py` (PDFs), `office.py` (office files,
through LibreOffice); this one is the type table and what every kind shares.

PDF pages render at 150 DPI by default: that is the scale the Upstage API renders PDFs at (an A4 page comes
back as 1242 x 1755 pixels), so local results have the same page sizes and box coordinates as API results.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import (
    CorruptDocumentError,
    FileMissingError,
    FileTooLargeError,
    PageRangeError,
    UnsupportedFormatError,
)
from ..vocab import FileKind as Kind
from . import images, office, pdf_pages

if TYPE_CHECKING:
    from PIL import Image

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PAGES_SYNC = 100
MAX_PAGES_ASYNC = 1000
DEFAULT_DPI = 150

# extension -> (kind, mime type)
_TYPES: dict[str, tuple[Kind, str]] = {
    ".jpg": ("image", "image/jpeg"),
    ".jpeg": ("image", "image/jpeg"),
    ".png": ("image", "image/png"),
    ".bmp": ("image", "image/bmp"),
    ".tif": ("tiff", "image/tiff"),
    ".tiff": ("tiff", "image/tiff"),
    ".heic": ("image", "image/heic"),
    ".heif": ("image", "image/heif"),
    ".webp": ("image", "image/webp"),
    ".gif": ("image", "image/gif"),
    ".pdf": ("pdf", "application/pdf"),
    ".docx": ("office", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".pptx": ("office", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ".xlsx": ("office", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".hwp": ("office", "application/x-hwp"),
    ".hwpx": ("office", "application/hwp+zip"),
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_TYPES)
_SUPPORTED_LIST = "JPEG, PNG, BMP, TIFF, HEIC/HEIF, WEBP, GIF, PDF, DOCX, PPTX, XLSX, HWP, HWPX"

# ISO-BMFF brands pillow-heif decodes as HEIC/HEIF.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class DocumentInfo:
    path: Path
    name: str
    kind: Kind
    mime: str
    extension: str  # the canonical extension of the detected type, e.g. ".jpg" (not necessarily the file's)
    size: int
    sha256: str  # "" when inspected without `digest` (a file whose identity is known already)
    page_count: int | None  # None only for office files whose page count is unknown without conversion


# --------------------------------------------------------------------------------------------------
# Inspection


def _sniff(head: bytes) -> str | None:
    """The canonical extension for the magic bytes in `head`, or "zip"/"ole" for containers, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"BM") and len(head) >= 26:
        return ".bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return ".tif"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp" and (head[8:12] in _HEIF_BRANDS or any(b in head[16:64] for b in _HEIF_BRANDS)):
        return ".heic"
    if b"%PDF-" in head[:1024]:
        return ".pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    return None


def _zip_kind(path: Path, ext: str) -> str:
    """docx/pptx/xlsx/hwpx from the zip's contents; the extension decides only when the contents don't."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mimetype = zf.read("mimetype")[:64]
                if b"hwp+zip" in mimetype:
                    return ".hwpx"
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        raise CorruptDocumentError(
            f"{path.name} looks like an office file but its zip container is damaged"
        ) from exc
    if "[Content_Types].xml" in names:
        if any(n.startswith("word/") for n in names):
            return ".docx"
        if any(n.startswith("ppt/") for n in names):
            return ".pptx"
        if any(n.startswith("xl/") for n in names):
            return ".xlsx"
    if ext in {".docx", ".pptx", ".xlsx", ".hwpx"}:
        return ext
    raise UnsupportedFormatError(
        f"{path.name} is a zip archive, not a supported document", hint=f"Supported: {_SUPPORTED_LIST}"
    )


def _unsupported(path: Path, what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{path.name}: {what}", hint=f"Supported formats: {_SUPPORTED_LIST}", status=415
    )


def _sha256_and_head(path: Path, digest: bool) -> tuple[str, bytes]:
    """The file's sha256 ("" without `digest`) and its first 4 KiB, in one pass."""
    hasher = hashlib.sha256()
    head = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024 if digest else 4096):
                if not head:
                    head = chunk[:4096]
                if not digest:
                    return "", head
                hasher.update(chunk)
    except PermissionError as exc:
        raise FileMissingError(
            f"cannot read {path}: permission denied", hint="Check the file's permissions"
        ) from exc
    except OSError as exc:
        raise FileMissingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return hasher.hexdigest(), head


def _readable_size(p: Path) -> int:
    """The size of the regular, readable, non-empty file at `p` within MAX_FILE_BYTES; else the error why not."""
    try:
        st = p.stat()
    except FileNotFoundError as exc:
        raise FileMissingError(
            f"file not found: {p}", hint="Check the path (relative paths start at the cwd)"
        ) from exc
    except OSError as exc:
        raise FileMissingError(f"cannot access {p}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise FileMissingError(f"{p} is a directory, not a file", hint="Pass one document file")
    if not stat.S_ISREG(st.st_mode):
        raise FileMissingError(f"{p} is not a regular file")
    if st.st_size == 0:
        raise FileMissingError(f"{p} is empty (0 bytes)")
    if st.st_size > MAX_FILE_BYTES:
        raise FileTooLargeError(
            f"{p.name} is {st.st_size / 1024 / 1024:.1f} MB; the limit is 50 MB",
            hint="Split the document (e.g. by page ranges) or compress its images",
            status=413,
        )
    if not os.access(p, os.R_OK):
        raise FileMissingError(f"cannot read {p}: permission denied", hint="Check the file's permissions")
    return st.st_size


def inspect_document(path: str | Path, *, digest: bool = True) -> DocumentInfo:
    """Check a local file and describe it. Raises an `InputError` subclass for anything we cannot process.

    `digest=False` skips the content hash (sha256 ""): for a file whose identity is known already.
    """
    p = Path(path).expanduser()
    size = _readable_size(p)
    sha256, head = _sha256_and_head(p, digest)
    ext = p.suffix.lower()
    sniffed = _sniff(head)
    if sniffed == "zip":
        sniffed = _zip_kind(p, ext)
    elif sniffed == "ole":
        if ext != ".hwp":
            raise _unsupported(p, "an OLE compound file (legacy .doc/.xls/.ppt?) is not supported")
        sniffed = ".hwp"
    if sniffed is None:
        if ext in SUPPORTED_EXTENSIONS:
            raise _unsupported(
                p, f"the name says {ext} but the content is not a {ext.lstrip('.').upper()} file"
            )
        raise _unsupported(p, "unrecognised file type")

    kind, mime = _TYPES[sniffed]
    if sniffed == ".heic" and ext == ".heif":
        mime = "image/heif"
    page_count: int | None
    if kind == "pdf":
        page_count = pdf_pages.pdf_page_count(p)
    elif kind in ("image", "tiff"):
        page_count = images.check_image(p, sniffed)
    else:
        page_count = office.office_page_count(p, sniffed)
    return DocumentInfo(
        path=p.resolve(),
        name=p.name,
        kind=kind,
        mime=mime,
        extension=sniffed,
        size=size,
        sha256=sha256,
        page_count=page_count,
    )


# --------------------------------------------------------------------------------------------------
# Rendering


def iter_page_images(
    info: DocumentInfo,
    pages: list[int] | None = None,
    *,
    dpi: int = DEFAULT_DPI,
    office_cache: Path | None = None,
) -> Iterator[tuple[int, Image.Image]]:
    """(1-based page number, RGB image) for each selected page, rendered one at a time, in the given order.

    Images get their EXIF orientation applied. PDF pages render at `dpi` (long side capped at
    MAX_RENDER_SIDE pixels). Office files are converted to PDF with LibreOffice first: kept in
    `office_cache` (by content) when given, else in a temporary folder.
    """
    if info.kind == "office" and office_cache is None:
        with tempfile.TemporaryDirectory(prefix="upstage-ocr-office-") as workdir:
            yield from iter_page_images(info, pages, dpi=dpi, office_cache=Path(workdir))
        return
    if info.kind == "office":
        pdf = office.converted_pdf(info, office_cache or Path())
        total = pdf_pages.pdf_page_count(pdf)
        yield from pdf_pages.iter_pdf(pdf, pages or list(range(1, total + 1)), dpi, info.name)
        return
    selected = pages or list(range(1, (info.page_count or 1) + 1))
    if info.kind == "pdf":
        yield from pdf_pages.iter_pdf(info.path, selected, dpi, info.name)
    else:
        yield from images.iter_raster(info, selected)


def render_page(
    info: DocumentInfo, page_number: int, dpi: int = DEFAULT_DPI, *, office_cache: Path | None = None
) -> Image.Image:
    """One page as an RGB image (for exports and overlays)."""
    for _number, image in iter_page_images(info, [page_number], dpi=dpi, office_cache=office_cache):
        return image
    raise PageRangeError(f"page {page_number} is outside the document")  # pragma: no cover


def page_sizes(info: DocumentInfo, dpi: int = DEFAULT_DPI) -> list[tuple[int, int]]:
    """(width, height) in pixels of every page as `iter_page_images` would render it, without rendering."""
    if info.kind == "pdf":
        return pdf_pages.pdf_page_sizes(info.path, dpi)
    if info.kind == "office":
        return [im.size for _n, im in iter_page_images(info, dpi=dpi)]
    sizes = []
    for _n, im in iter_page_images(info):
        sizes.append(im.size)
        im.close()
    return sizes
