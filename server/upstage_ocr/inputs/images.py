"""Raster inputs (JPEG, PNG, BMP, TIFF, HEIC/HEIF, WEBP, GIF): pixel limits checked from the header, a cheap
decode check, and the frames as RGB images one at a time.

PIL's own decompression-bomb guard stays as a backstop: on first use (never at import) its limit is raised to
MAX_PIXELS if it is lower, so our clearer FileTooLargeError is the one a user sees.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from ..errors import ConfigError, CorruptDocumentError, FileTooLargeError, PageRangeError

if TYPE_CHECKING:
    from .documents import DocumentInfo

MAX_PIXELS = 200_000_000


def _pil_guard() -> None:
    """Raise PIL's decompression-bomb limit to ours (never lower it); called before every open."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@functools.cache
def register_heif() -> None:
    """Teach PIL to open HEIC/HEIF (once per process; registering again would be harmless)."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError as exc:  # pragma: no cover - pillow-heif is a dependency
        raise ConfigError("HEIC/HEIF files need pillow-heif", hint="pip install pillow-heif") from exc


def _open_image(path: Path) -> Image.Image:
    """PIL's lazy open (reads the header only), with the decompression-bomb guard turned into our error."""
    _pil_guard()
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


def check_pixels(path: Path, img: Image.Image, page: int | None = None) -> None:
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


def check_image(path: Path, ext: str) -> int:
    if ext == ".heic":
        register_heif()
    img = _open_image(path)
    try:
        check_pixels(path, img)
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
                check_pixels(path, img, i + 1)
            img.seek(0)
        _decode_check(path, img)
        return frames
    finally:
        img.close()


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


def iter_raster(info: DocumentInfo, pages: list[int]) -> Iterator[tuple[int, Image.Image]]:
    if info.extension == ".heic":
        register_heif()
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
                    check_pixels(info.path, img, number)
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
