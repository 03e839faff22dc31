"""Confidence overlays: a page image with every word box drawn and shaded by confidence (green sure, red unsure)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..fsutil import atomic_open
from ..models import Page

if TYPE_CHECKING:
    from PIL import Image

    from .writers import PageImage


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
