"""What is uploaded: the document part's MIME type, and a PDF of selected pages cut out of the input."""

from __future__ import annotations

import io
import mimetypes
from pathlib import Path

from .. import errors
from .responses import one_line

_EXTRA_MIME = {
    ".hwp": "application/x-hwp",
    ".hwpx": "application/hwp+zip",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def guess_mime(filename: str) -> str:
    """The MIME type to declare on the `document` part, from the file name."""
    ext = Path(filename).suffix.lower()
    if ext in _EXTRA_MIME:
        return _EXTRA_MIME[ext]
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def pdf_subset(path: Path, pages: list[int]) -> bytes:
    """A new PDF holding only `pages` (1-based, in the given order) of the PDF at `path`."""
    import pikepdf

    if not pages:
        raise errors.PageRangeError("no pages selected", hint="Give at least one page number, e.g. 1-3")
    try:
        with pikepdf.open(path) as src:
            total = len(src.pages)
            bad = [p for p in pages if p < 1 or p > total]
            if bad:
                raise errors.PageRangeError(
                    f"page {bad[0]} is outside the document ({total} pages)",
                    hint=f"Choose pages between 1 and {total}",
                )
            out = pikepdf.new()
            for number in pages:
                out.pages.append(src.pages[number - 1])
            buf = io.BytesIO()
            out.save(buf)
            return buf.getvalue()
    except pikepdf.PasswordError as exc:
        raise errors.CorruptDocumentError(
            f"{Path(path).name} is password-protected", hint="Remove the password and retry"
        ) from exc
    except pikepdf.PdfError as exc:
        raise errors.CorruptDocumentError(
            f"{Path(path).name} is not a readable PDF ({one_line(str(exc), 120)})",
            hint="Check that the file opens, re-save it, and retry",
        ) from exc
    except OSError as exc:
        raise errors.FileMissingError(
            f"cannot read {path}: {exc.strerror or exc}", hint="Check the path and permissions"
        ) from exc
