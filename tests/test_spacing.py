"""Word breaks the recogniser missed are found again in the ink (engines/spacing.py), and nothing else is cut."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from upstage_ocr.engines.geometry import TextLine, TextWord
from upstage_ocr.engines.spacing import restore_spaces

SANS = "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"

PROSE = [
    "The river rose by almost two metres overnight",
    "and several roads near the old bridge were closed.",
    "Customers can return unused items within thirty days",
    "if they keep the original receipt. Thank you!",
    "He wrote down 17 boxes and 8 crates at 21.30 today.",
    "See notes 11) and (b), then call (01) 234 5678.",
]


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        pytest.skip(f"{path} not installed")


def _page(lines: list[str], font: ImageFont.FreeTypeFont, merge: set[str], blur: bool = True):
    """A page with `lines` drawn, and the TextLines a recogniser would return for it, except that each pair
    of neighbouring words named in `merge` (as "left right") comes back as one word without its space."""
    img = Image.new("RGB", (1200, 60 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    out: list[TextLine] = []
    for i, text in enumerate(lines):
        y = 30 + 50 * i
        draw.text((40, y), text, font=font, fill="black")
        boxes: list[tuple[str, tuple[float, float]]] = []
        for word in text.split(" "):
            start = text.index(word, len(" ".join(w for w, _ in boxes)) + (1 if boxes else 0))
            x0 = 40 + draw.textlength(text[:start], font=font)
            x1 = x0 + draw.textlength(word, font=font)
            boxes.append((word, (x0, x1)))
        top, bottom = y - 4, y + font.size + 8
        words: list[TextWord] = []
        k = 0
        while k < len(boxes):
            word, (x0, x1) = boxes[k]
            if k + 1 < len(boxes) and f"{word} {boxes[k + 1][0]}" in merge:
                word, x1 = word + boxes[k + 1][0], boxes[k + 1][1][1]
                k += 1
            words.append(TextWord(word, 0.9, [(x0, top), (x1, top), (x1, bottom), (x0, bottom)]))
            k += 1
        right = words[-1].points[1][0] + 10
        out.append(TextLine(points=[(30.0, top), (right, top), (right, bottom), (30.0, bottom)], words=words))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(0.9))
    return img, out


def _texts(lines: list[TextLine]) -> list[str]:
    return [" ".join(w.text for w in ln.words) for ln in lines]


@pytest.mark.parametrize("path,size", [(SANS, 21), (SERIF, 26), (MONO, 24)])
def test_missed_spaces_come_back(path, size):
    merge = {"rose by", "unused items", "receipt. Thank", "Thank you!"}
    img, lines = _page(PROSE, _font(path, size), merge)
    fixed = restore_spaces(lines, img)
    assert _texts(fixed) == PROSE
    # the new words' boxes lie inside the merged word's box, in order, and do not overlap
    merged = {w.text: w for ln in lines for w in ln.words}["roseby"]
    parts = [w for ln in fixed for w in ln.words if w.text in ("rose", "by")][:2]
    xs = [(min(p[0] for p in w.points), max(p[0] for p in w.points)) for w in parts]
    assert xs[0][1] <= xs[1][0]
    assert (
        min(p[0] for p in merged.points) - 2 <= xs[0][0] and xs[1][1] <= max(p[0] for p in merged.points) + 2
    )


@pytest.mark.parametrize("path,size", [(SANS, 21), (SERIF, 26), (MONO, 24)])
def test_nothing_is_cut_when_nothing_was_missed(path, size):
    img, lines = _page(PROSE, _font(path, size), set())
    assert _texts(restore_spaces(lines, img)) == PROSE


def test_figures_are_not_cut():
    # "17" and "21.30" in a serif font have gaps as wide as a space between their figures
    img, lines = _page(PROSE, _font(SERIF, 26), {"17 boxes"})
    texts = _texts(restore_spaces(lines, img))
    assert "He wrote down 17 boxes and 8 crates at 21.30 today." in texts


def test_too_few_known_spaces_leave_the_page_alone():
    img, lines = _page(["Thank you!"], _font(SANS, 21), {"Thank you!"})
    assert _texts(restore_spaces(lines, img)) == ["Thankyou!"]


def test_lines_with_non_latin_words_are_left_alone():
    img, lines = _page(PROSE, _font(SANS, 21), {"rose by"})
    lines[0].words[0] = TextWord("강물이", 0.9, lines[0].words[0].points)
    fixed = restore_spaces(lines, img)
    assert _texts(fixed)[0].split(" ")[:3] == ["강물이", "river", "roseby"]


def _word(text: str, right: float) -> TextWord:
    return TextWord(text, 0.9, [(0.0, 0.0), (right, 0.0), (right, 20.0), (0.0, 20.0)])


def _blank_at(start: int, end: int, width: int):
    import numpy as np

    from upstage_ocr.engines.spacing import _Profile

    inked = np.ones(width, dtype=bool)
    inked[start:end] = False
    return _Profile(left=0, height=20.0, runs=[(start, end)], inked=inked)


def test_a_word_is_never_cut_before_closing_or_after_opening_punctuation():
    from upstage_ocr.engines.spacing import _split

    # the gap in front of ")" is the figure's own side bearing, not a space
    assert [w.text for w in _split(_word("11)", 30), [(20, 24)], _blank_at(20, 24, 30))] == ["11)"]
    assert [w.text for w in _split(_word("(see", 40), [(7, 11)], _blank_at(7, 11, 40))] == ["(see"]
    # a closing mark goes with the word before the space: "clock. Please", not "clock .Please"
    parts = _split(_word("clock.Please", 120), [(52, 60)], _blank_at(52, 60, 120))
    assert [w.text for w in parts] == ["clock.", "Please"]
