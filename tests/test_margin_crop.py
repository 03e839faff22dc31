"""The RapidOCR engine reads only the inked part of a page: where that part is found, and that words read from
it come back in the page's own coordinates."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageDraw, ImageFont

from upstage_ocr.engines import rapid
from upstage_ocr.engines.rapid import content_box
from upstage_ocr.engines.rapid_steps import DET_LIMIT, page_det_limit

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
A4 = (1240, 1754)


def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        pytest.skip("DejaVu fonts not installed")


def _speckle(img: Image.Image, per: int = 400, seed: int = 3) -> Image.Image:
    """Salt-and-pepper noise of a poor scan: one random grey pixel in every `per`."""
    rng = random.Random(seed)
    px = img.load()
    assert px is not None
    for _ in range(img.width * img.height // per):
        x, y = rng.randrange(img.width), rng.randrange(img.height)
        shade = rng.randrange(0, 256)
        px[x, y] = (shade, shade, shade)
    return img


def _page_with_text(at: tuple[int, int], text: str, fill: str = "black", size: int = 28) -> Image.Image:
    img = Image.new("RGB", A4, "white")
    ImageDraw.Draw(img).text(at, text, font=_font(size), fill=fill)
    return img


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_crop_holds_the_text_with_a_margin():
    img = _page_with_text((400, 600), "Total CHF 129.90")
    ink = ImageDraw.Draw(img).textbbox((400, 600), "Total CHF 129.90", font=_font(28))
    box = content_box(img)
    assert _inside(tuple(int(v) for v in ink), box)
    # a margin of blank is kept, but no more than a few dozen pixels
    assert box[0] >= ink[0] - 40 and box[2] <= ink[2] + 40
    assert (box[2] - box[0]) * (box[3] - box[1]) < 0.05 * A4[0] * A4[1]


def test_noise_of_a_scan_does_not_defeat_the_crop():
    img = _speckle(_page_with_text((300, 200), "Seestrasse 12, 8002 Zurich"))
    box = content_box(img)
    assert box != (0, 0, *A4)
    assert box[3] < 400  # the specks all over the page are not taken for text


def test_faint_small_text_far_from_the_rest_stays_inside():
    img = _page_with_text((300, 200), "Invoice 4711")
    # a page number in light grey, small, at the very bottom right
    ImageDraw.Draw(img).text((1100, 1680), "p. 3", font=_font(16), fill=(160, 160, 160))
    box = content_box(img)
    assert box[2] >= 1130 and box[3] >= 1690


def test_pages_without_margins_to_trust_are_read_whole():
    assert content_box(Image.new("RGB", A4, (40, 40, 40))) == (0, 0, *A4)  # dark page
    assert content_box(Image.new("RGB", A4, "white")) == (0, 0, *A4)  # nothing on it
    assert content_box(Image.new("RGB", (50, 40), "white")) == (0, 0, 50, 40)  # tiny image
    spread = _page_with_text((30, 30), "top left")
    ImageDraw.Draw(spread).text((1100, 1700), "end", font=_font(28), fill="black")
    assert content_box(spread) == (0, 0, *A4)  # ink from corner to corner: nothing to gain


def test_detector_scale_of_a_part_matches_the_whole_page():
    # an A4 page at 150 DPI is not enlarged by the detector, so neither is a part of it
    assert page_det_limit(A4, (600, 500)) == 500
    # a small screenshot is enlarged to the detector's limit; its part by the same factor
    assert page_det_limit((500, 368), (250, 184)) == round(184 * DET_LIMIT / 368)
    assert page_det_limit((500, 368), (500, 368)) == DET_LIMIT
    assert page_det_limit(A4, (2000, 1500)) == DET_LIMIT


@pytest.mark.slow
def test_words_read_from_the_part_land_where_they_are_on_the_page(monkeypatch):
    engine = rapid.RapidEngine()
    img = _speckle(_page_with_text((620, 1300), "Grindelwald 8.50"))
    seen: list[tuple[int, int]] = []
    real_read = engine._read

    def spy(image, det_limit, det_scale):
        seen.append(image.size)
        return real_read(image, det_limit, det_scale)

    monkeypatch.setattr(engine, "_read", spy)
    words = engine.recognize(img)
    assert seen and seen[0][0] * seen[0][1] < 0.1 * A4[0] * A4[1]  # the model saw the part, not the page
    by_text = {w.text: w for w in words}
    assert "Grindelwald" in by_text, [w.text for w in words]
    xs = [x for x, _ in by_text["Grindelwald"].points]
    ys = [y for _, y in by_text["Grindelwald"].points]
    ink = ImageDraw.Draw(img).textbbox((620, 1300), "Grindelwald", font=_font(28))
    assert abs(min(xs) - ink[0]) < 12 and abs(max(xs) - ink[2]) < 12
    assert abs(min(ys) - ink[1]) < 12 and abs(max(ys) - ink[3]) < 12
