"""Draw the project's icon: a page of text lines under a scan beam, its words framed by detection boxes.

Our own artwork, drawn with Pillow only (no fonts, no images read), so it looks the same on every machine.
Writes the 1024 x 1024 PNG that Claude Code's plugin directory shows (`.claude-plugin/icon.png`) and its copy
under `manifests/claude-plugin/`. Run from anywhere: `python manifests/make_icon.py [OUT.png ...]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 1024  # final side in pixels (the plugin directory wants a square PNG of 512-2048 px, under 2 MB)
SCALE = 2  # drawn at twice the size and scaled down, which smooths every edge
ROOT = Path(__file__).resolve().parents[1]
TARGETS = (ROOT / ".claude-plugin" / "icon.png", ROOT / "manifests" / "claude-plugin" / "icon.png")

TOP, BOTTOM = (24, 38, 92), (58, 36, 140)  # background gradient: deep blue to violet
PAGE, FOLD, INK, UNREAD = (250, 251, 255), (208, 214, 235), (62, 70, 104), (196, 202, 222)
BOX, BEAM = (255, 184, 48), (64, 224, 255)  # word boxes (amber) and the scan beam (cyan)

# The page's text: one row per line, each word a (start, end) span in page units 0..100.
LINES = (
    ((0, 30), (35, 58), (63, 100)),
    ((0, 18), (23, 64), (69, 88)),
    ((0, 42), (47, 70), (75, 100)),
    ((0, 26), (31, 52), (57, 84)),
    ((0, 36), (41, 60)),
)
FRAMED = {(0, 2), (1, 1), (2, 0)}  # (line, word) pairs drawn with a detection box around them
READ_LINES = 3  # lines above the beam, already read: dark ink; the rest still pale


def _gradient(side: int) -> Image.Image:
    """A vertical two-colour gradient filling a square."""
    column = Image.new("RGB", (1, side))
    for y in range(side):
        t = y / (side - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM, strict=True)))
    return column.resize((side, side))


def _page(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], fold: int) -> None:
    """A sheet of paper with its top-right corner folded down."""
    x0, y0, x1, y1 = box
    outline = [(x0, y0), (x1 - fold, y0), (x1, y0 + fold), (x1, y1), (x0, y1)]
    draw.polygon(outline, fill=PAGE)
    draw.polygon([(x1 - fold, y0), (x1 - fold, y0 + fold), (x1, y0 + fold)], fill=FOLD)


def _words(draw: ImageDraw.ImageDraw, area: tuple[int, int, int, int], unit: int) -> None:
    """Rows of rounded word bars, read lines dark and unread ones pale; some framed by a detection box."""
    x0, y0, x1, y1 = area
    pitch = (y1 - y0) // len(LINES)
    height = pitch * 9 // 25
    for row, words in enumerate(LINES):
        top = y0 + row * pitch + (pitch - height) // 2
        for index, (start, end) in enumerate(words):
            left = x0 + (x1 - x0) * start // 100
            right = x0 + (x1 - x0) * end // 100
            draw.rounded_rectangle(
                (left, top, right, top + height), radius=height // 2, fill=INK if row < READ_LINES else UNREAD
            )
            if (row, index) in FRAMED:
                pad = unit * 5 // 4
                frame = (left - pad, top - pad, right + pad, top + height + pad)
                draw.rounded_rectangle(frame, radius=unit, outline=BOX, width=unit * 3 // 4)


def _beam(image: Image.Image, y: int, x0: int, x1: int, unit: int) -> Image.Image:
    """A glowing horizontal scan line across the page, wider than it, with a soft halo."""
    glow = Image.new("RGBA", image.size, (*BEAM, 0))  # transparent cyan, so the blur stays cyan
    draw = ImageDraw.Draw(glow)
    draw.rounded_rectangle((x0, y - unit * 2, x1, y + unit * 2), radius=unit * 2, fill=(*BEAM, 200))
    glow = glow.filter(ImageFilter.GaussianBlur(unit * 3))
    line = ImageDraw.Draw(glow)
    line.rounded_rectangle(
        (x0, y - unit * 3 // 4, x1, y + unit * 3 // 4), radius=unit * 3 // 4, fill=(*BEAM, 255)
    )
    return Image.alpha_composite(image, glow)


def draw_icon(size: int = SIZE) -> Image.Image:
    """The icon as an RGB image of size x size pixels."""
    side = size * SCALE
    unit = side // 100  # layout unit: one hundredth of the side
    image = _gradient(side).convert("RGBA")

    page = (unit * 24, unit * 14, unit * 76, unit * 86)
    shadow = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rectangle(
        (page[0] + unit, page[1] + unit * 2, page[2] + unit, page[3] + unit * 2), fill=(8, 10, 30, 150)
    )
    image = Image.alpha_composite(image, shadow.filter(ImageFilter.GaussianBlur(unit * 2)))

    draw = ImageDraw.Draw(image)
    _page(draw, page, fold=unit * 12)
    _words(draw, (page[0] + unit * 7, page[1] + unit * 16, page[2] - unit * 7, page[3] - unit * 6), unit)
    image = _beam(image, page[1] + unit * 47, unit * 16, unit * 84, unit)
    return image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str]) -> int:
    targets = [Path(arg) for arg in argv] or list(TARGETS)
    icon = draw_icon()
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        icon.save(target, format="PNG", optimize=True)
        print(f"{target}: {icon.width}x{icon.height}, {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
