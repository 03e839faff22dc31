"""Input documents: what a file is (by its magic bytes), whether we may process it, and its pages as images.

`inspect_document` checks everything that can be checked cheaply before any OCR work (type, size, sha256,
page count, pixel limits, decodability) and raises the matching `errors` class. `iter_page_images` then
renders the pages one at a time, so a 1,000-page PDF never needs more than one raster in memory.

PDF pages render at 150 DPI by default: that is the scale the Upstage API renders PDFs at (an A4 page comes
back as 1242 x 1755 pixels), so local results have the same page sizes and box coordinates as API results.

pdfium is not thread-safe: every pypdfium2 call in this process must hold `PDFIUM_LOCK`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageFile, ImageOps

from ..errors import (
    ConfigError,
    CorruptDocumentError,
    FileMissingError,
    FileTooLargeError,
    InputError,
    PageRangeError,
    UnsupportedFormatError,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PAGES_SYNC = 100
MAX_PAGES_ASYNC = 1000
MAX_PIXELS = 200_000_000

DEFAULT_DPI = 150
MAX_RENDER_SIDE = 4000  # a rendered PDF page's long side is capped at this many pixels (huge-format pages)
MIN_RENDER_DPI = 50

Kind = Literal["image", "tiff", "pdf", "office"]

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

PDFIUM_LOCK = threading.RLock()
_HEIF_LOCK = threading.Lock()
_heif_registered = False

# Decompression bombs: PIL warns above MAX_IMAGE_PIXELS and refuses above twice that. We check the pixel
# count from the header ourselves (FileTooLargeError above MAX_PIXELS); PIL's own guard stays as a backstop.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class DocumentInfo:
    path: Path
    name: str
    kind: Kind
    mime: str
    extension: str  # the canonical extension of the detected type, e.g. ".jpg" (not necessarily the file's)
    size: int
    sha256: str
    page_count: int | None  # None only for office files whose page count is unknown without conversion


# --------------------------------------------------------------------------------------------------
# Inspection


def _register_heif() -> None:
    global _heif_registered
    with _HEIF_LOCK:
        if _heif_registered:
            return
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError as exc:  # pragma: no cover - pillow-heif is a dependency
            raise ConfigError("HEIC/HEIF files need pillow-heif", hint="pip install pillow-heif") from exc
        _heif_registered = True


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


def _sha256_and_head(path: Path) -> tuple[str, bytes]:
    digest = hashlib.sha256()
    head = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                if not head:
                    head = chunk[:4096]
                digest.update(chunk)
    except PermissionError as exc:
        raise FileMissingError(
            f"cannot read {path}: permission denied", hint="Check the file's permissions"
        ) from exc
    except OSError as exc:
        raise FileMissingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), head


def inspect_document(path: str | Path) -> DocumentInfo:
    """Check a local file and describe it. Raises an `InputError` subclass for anything we cannot process."""
    p = Path(path).expanduser()
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

    sha256, head = _sha256_and_head(p)
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
        page_count = _pdf_page_count(p)
    elif kind in ("image", "tiff"):
        page_count = _check_image(p, sniffed)
    else:
        page_count = _office_page_count(p, sniffed)
    return DocumentInfo(
        path=p.resolve(),
        name=p.name,
        kind=kind,
        mime=mime,
        extension=sniffed,
        size=st.st_size,
        sha256=sha256,
        page_count=page_count,
    )


def _pdf_open(path: Path) -> Any:
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


def _pdf_page_count(path: Path) -> int:
    with PDFIUM_LOCK:
        doc = _pdf_open(path)
        try:
            count = len(doc)
        finally:
            doc.close()
    if count == 0:
        raise CorruptDocumentError(f"{path.name} is a PDF with no pages", status=422)
    return count


def _open_image(path: Path) -> Image.Image:
    """PIL's lazy open (reads the header only), with the decompression-bomb guard turned into our error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise FileTooLargeError(
            f"{path.name} has too many pixels; the limit is {MAX_PIXELS:,} per page", status=413
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptDocumentError(
            f"{path.name} is a damaged image that cannot be decoded", status=422
        ) from exc


def _check_pixels(path: Path, img: Image.Image, page: int | None = None) -> None:
    w, h = img.size
    if w <= 0 or h <= 0:
        raise CorruptDocumentError(f"{path.name} has an invalid image size {w}x{h}", status=422)
    if w * h > MAX_PIXELS:
        where = f" (page {page})" if page else ""
        raise FileTooLargeError(
            f"{path.name}{where} is {w}x{h} = {w * h:,} pixels; the limit is {MAX_PIXELS:,} per page",
            hint="Downscale the image first",
            status=413,
        )


def _decode_check(path: Path, img: Image.Image) -> None:
    """Decode the (first) frame to catch truncated/corrupt data early. JPEGs decode at 1/8 scale (fast)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if img.format == "JPEG":
                img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
            img.load()
    except Image.DecompressionBombError as exc:
        raise FileTooLargeError(
            f"{path.name} has too many pixels; the limit is {MAX_PIXELS:,}", status=413
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptDocumentError(
            f"{path.name} is a damaged or truncated image that cannot be decoded", status=422
        ) from exc


def _check_image(path: Path, ext: str) -> int:
    if ext == ".heic":
        _register_heif()
    img = _open_image(path)
    try:
        _check_pixels(path, img)
        frames = 1
        if ext == ".tif":
            try:
                frames = int(getattr(img, "n_frames", 1))
            except (OSError, ValueError, EOFError) as exc:
                raise CorruptDocumentError(f"{path.name} is a damaged TIFF", status=422) from exc
            for i in range(1, frames):
                try:
                    img.seek(i)
                except (OSError, EOFError, ValueError) as exc:
                    raise CorruptDocumentError(
                        f"{path.name}: TIFF page {i + 1} is damaged", status=422
                    ) from exc
                _check_pixels(path, img, i + 1)
            img.seek(0)
        _decode_check(path, img)
        return frames
    finally:
        img.close()


def _office_page_count(path: Path, ext: str) -> int | None:
    """Slides in a PPTX are known from its metadata; other office page counts need a conversion."""
    if ext != ".pptx":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            slides = [n for n in zf.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDocumentError(f"{path.name} is a damaged PPTX", status=422) from exc
    return len(slides) or None


# --------------------------------------------------------------------------------------------------
# Rendering


def _to_rgb(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) or 1.0
        img = Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8), mode="L")
    return img.convert("RGB") if img.mode != "RGB" else img


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


def _iter_pdf(path: Path, pages: list[int], dpi: int, name: str) -> Iterator[tuple[int, Image.Image]]:
    with PDFIUM_LOCK:
        doc = _pdf_open(path)
    try:
        total = len(doc)
        for number in pages:
            if not 1 <= number <= total:
                raise PageRangeError(f"page {number} is outside the document: it has {total} pages")
            yield number, _render_pdf_page(doc, number - 1, dpi, name)
    finally:
        with PDFIUM_LOCK:
            doc.close()


def _iter_raster(info: DocumentInfo, pages: list[int]) -> Iterator[tuple[int, Image.Image]]:
    if info.extension == ".heic":
        _register_heif()
    img = _open_image(info.path)
    try:
        for number in pages:
            if info.page_count is not None and not 1 <= number <= info.page_count:
                raise PageRangeError(f"page {number} is outside the document: it has {info.page_count} pages")
            try:
                if number > 1 or info.kind == "tiff":
                    img.seek(number - 1)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    _check_pixels(info.path, img, number)
                    frame = img.copy() if info.kind == "tiff" else img
                    frame.load()
                    out = _to_rgb(frame)
            except EOFError as exc:
                raise PageRangeError(
                    f"page {number} is outside the document: it has {info.page_count} pages"
                ) from exc
            except (OSError, SyntaxError, ValueError) as exc:
                raise CorruptDocumentError(
                    f"{info.name}: page {number} cannot be decoded", status=422
                ) from exc
            yield number, out
    finally:
        img.close()


def iter_page_images(
    info: DocumentInfo, pages: list[int] | None = None, *, dpi: int = DEFAULT_DPI
) -> Iterator[tuple[int, Image.Image]]:
    """(1-based page number, RGB image) for each selected page, rendered one at a time, in the given order.

    Images get their EXIF orientation applied. PDF pages render at `dpi` (long side capped at
    MAX_RENDER_SIDE pixels). Office files are converted to PDF with LibreOffice first.
    """
    if info.kind == "office":
        with tempfile.TemporaryDirectory(prefix="upstage-ocr-office-") as workdir:
            pdf = convert_office_to_pdf(info, Path(workdir))
            total = _pdf_page_count(pdf)
            yield from _iter_pdf(pdf, pages or list(range(1, total + 1)), dpi, info.name)
        return
    selected = pages or list(range(1, (info.page_count or 1) + 1))
    if info.kind == "pdf":
        yield from _iter_pdf(info.path, selected, dpi, info.name)
    else:
        yield from _iter_raster(info, selected)


def render_page(info: DocumentInfo, page_number: int, dpi: int = DEFAULT_DPI) -> Image.Image:
    """One page as an RGB image (for exports and overlays)."""
    for _number, image in iter_page_images(info, [page_number], dpi=dpi):
        return image
    raise PageRangeError(f"page {page_number} is outside the document")  # pragma: no cover


def page_sizes(info: DocumentInfo, dpi: int = DEFAULT_DPI) -> list[tuple[int, int]]:
    """(width, height) in pixels of every page as `iter_page_images` would render it, without rendering."""
    if info.kind == "pdf":
        out = []
        with PDFIUM_LOCK:
            doc = _pdf_open(info.path)
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
    if info.kind == "office":
        return [im.size for _n, im in iter_page_images(info, dpi=dpi)]
    sizes = []
    for _n, im in iter_page_images(info):
        sizes.append(im.size)
        im.close()
    return sizes


# --------------------------------------------------------------------------------------------------
# Office files

LIBREOFFICE_HINT = (
    "Install LibreOffice (Debian/Ubuntu: apt-get install libreoffice-core libreoffice-writer "
    "libreoffice-calc libreoffice-impress; for HWP also libreoffice-h2orestart), "
    "or use --engine upstage, which accepts office files directly"
)


def find_soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    mac = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
    return str(mac) if mac.exists() else None


def convert_office_to_pdf(info: DocumentInfo, workdir: Path, *, timeout: float = 300.0) -> Path:
    """Convert an office file to PDF in `workdir` with LibreOffice headless; returns the PDF's path."""
    soffice = find_soffice()
    if not soffice:
        raise ConfigError(
            f"{info.name}: the local engine needs LibreOffice to read {info.extension} files",
            hint=LIBREOFFICE_HINT,
        )
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"input{info.extension}"  # a plain name: LibreOffice names its output after the input
    shutil.copyfile(info.path, src)
    profile = (workdir / "lo-profile").resolve().as_uri()
    cmd = [
        soffice,
        f"-env:UserInstallation={profile}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(workdir),
        str(src),
    ]
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CorruptDocumentError(
            f"{info.name}: LibreOffice did not finish converting it in {timeout:.0f} s"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot run LibreOffice ({soffice}): {exc}", hint=LIBREOFFICE_HINT) from exc
    out = workdir / "input.pdf"
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        detail = (proc.stderr or proc.stdout or b"").decode("utf-8", "replace").strip().splitlines()
        raise CorruptDocumentError(
            f"{info.name}: LibreOffice could not convert it to PDF"
            + (f" ({detail[-1][:200]})" if detail else ""),
            status=422,
        )
    return out
