"""Every script read right, and pages read in order: on pages rendered from known text.

Chinese and Japanese come out without spaces between their characters (with and without a language hint);
Korean words keep their digits and particles (`123번지`, `4층`); Latin pages get no Hangul, even where the
Korean reader is asked; `--engine tesseract` keeps Tesseract's own spacing; two-column pages read column by
column and form fields far apart on a row are separate lines, while a receipt's rows stay whole.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw, ImageFont

from upstage_ocr.engines import hangul, tesseract
from upstage_ocr.engines.base import get_engine
from upstage_ocr.engines.columns import blocks, field_breaks
from upstage_ocr.engines.geometry import TextLine, TextWord, quad_from_box
from upstage_ocr.jobs.local_backend import recognize_page
from upstage_ocr.output import reading as layout
from upstage_ocr.output import writers as exports

NOTO_SANS_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
DEJAVU_SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
JP, KR, SC = 0, 1, 2  # faces of the Noto Sans CJK collection

CHINESE = [
    "我们的产品将于明天上午送达，请注意查收短信通知。",
    "图书馆平日早上九点开门，晚上六点关门。",
    "河水一夜之间上涨了将近两米，旧桥附近的几条道路已经封闭。",
]
JAPANESE = [
    "本日の会議では来期の予算と新しい採用計画について話し合いました。",
    "図書館は平日の午前九時から午後六時まで開いています。",
    "駅から少し歩くと、噴水と小さなカフェのある静かな広場に出ます。",
]
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
CJK_GAP = re.compile(
    "([\u3040-\u30ff\u3400-\u9fff\uff00-\uffef\u3000-\u303f]) (?=[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef\u3000-\u303f])"
)


@pytest.fixture(scope="module")
def engine():
    return get_engine("local")


def _font(path: str, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError:
        pytest.skip(f"{path} is not installed")


def _render(
    lines: list[str],
    font: ImageFont.FreeTypeFont,
    width: int = 1240,
    step: float = 1.7,
    at: tuple[int, int] = (60, 40),
    height: int | None = None,
) -> Image.Image:
    """`lines` drawn from `at` (left, top), one every `step` font sizes."""
    pitch = int(font.size * step)
    img = Image.new("RGB", (width, height or 2 * at[1] + pitch * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((at[0], at[1] + pitch * i), line, font=font, fill="black")
    return img


def _cer(truth: str, text: str) -> float:
    from rapidfuzz.distance import Levenshtein

    t, h = re.sub(r"\s+", " ", truth).strip(), re.sub(r"\s+", " ", text).strip()
    return Levenshtein.distance(t, h) / len(t)


def _needs(lang: str) -> None:
    if lang not in tesseract.available_languages():
        pytest.skip(f"Tesseract has no {lang} data")


# -- Chinese and Japanese ------------------------------------------------------------------------------


@pytest.mark.parametrize(("truth", "face", "hint"), [(CHINESE, SC, "zh"), (JAPANESE, JP, "ja")])
def test_cjk_pages_have_no_inserted_spaces(engine, truth, face, hint):
    img = _render(truth, _font(NOTO_SANS_CJK, 30, face))
    for lang in (None, hint):
        page = recognize_page(engine, img, 0, lang)
        assert not CJK_GAP.search(page.text), page.text
        assert _cer("\n".join(truth), page.text) <= 0.01
        assert page.text.split(" \n") == truth  # one line each, as drawn
        assert not HANGUL.search(page.text)


@pytest.mark.parametrize(("truth", "face", "lang"), [(CHINESE, SC, "chi_sim"), (JAPANESE, JP, "jpn")])
def test_tesseract_engine_keeps_its_cjk_spacing(truth, face, lang):
    _needs(lang)
    page = recognize_page(get_engine("tesseract"), _render(truth, _font(NOTO_SANS_CJK, 30, face)), 0, lang)
    assert not CJK_GAP.search(page.text), page.text
    assert _cer("\n".join(truth), page.text) <= 0.05


# -- Korean --------------------------------------------------------------------------------------------


def test_korean_digits_and_particles_stay_on_their_word(engine):
    _needs("kor")
    truth = [
        "서울시 강남구 테헤란로 123번지 4층",
        "주문 번호 A-2047 상품은 3월 14일에 발송되었습니다.",
        "화장품제조업자 등록번호 2024-15",
    ]
    # drawn where RapidOCR reads `12` (0.5 sure) on the first line, and Tesseract `123번지` (0.92)
    img = _render(truth, _font(NOTO_SANS_CJK, 30, KR), step=1.6, at=(100, 100), height=400)
    page = recognize_page(engine, img, 0, None)
    words = [w.text for w in page.words]
    for word in ("123번지", "4층", "14일에", "3월", "화장품제조업자"):
        assert word in words, words
    assert _cer("\n".join(truth), page.text) <= 0.01


def test_tesseract_engine_keeps_korean_words_whole():
    _needs("kor")
    truth = ["화장품제조업자 등록 안내", "주문하신 상품은 내일 도착합니다."]
    img = _render(truth, _font(NOTO_SANS_CJK, 40, KR), width=1000, step=2.0)
    words = [w.text for w in recognize_page(get_engine("tesseract"), img, 0, "ko").words]
    assert "화장품제조업자" in words and "도착합니다." in words, words


# -- no Hangul on Latin pages ----------------------------------------------------------------------------


def test_latin_ink_is_never_read_as_hangul(engine, monkeypatch):
    """Even when every line is taken for a Hangul suspect and read by Tesseract `kor`, Latin text that
    RapidOCR reads surely stays Latin (`A short` once came back `스 short`)."""
    _needs("kor")
    truth = [
        "A short walk from the station brings you to a quiet square with a",
        "fountain and three small cafes. TX 3951 U is parked at the corner.",
    ]
    monkeypatch.setattr(hangul, "suspect", lambda line: True)
    for angle in (0.8, 1.5):
        img = _render(truth, _font(DEJAVU_SERIF, 28), step=1.5, at=(110, 60), height=300)
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor="white")
        lines, missed = engine.rapid.read_lines_and_misses(img)
        fixed = hangul.fix_lines(img, lines, missed, engine.rapid)
        text = "\n".join(line.text for line in fixed)
        assert not HANGUL.search(text), text
        assert _cer("\n".join(truth), text) <= 0.02


def test_letter_gaps_of_large_bold_words_are_no_spaces(engine):
    lines = ["TX   3951   U", "WHITEBOARD", "A 12   B 7    C 99", "ROOM  204    EXIT", "NO. 55    TEL 0339"]
    img = _render(lines, _font(DEJAVU_BOLD, 70), width=1000, step=1.8)
    words = [w.text for w in recognize_page(engine, img, 0, None).words]
    assert "WHITEBOARD" in words and "W" not in words, words
    assert not HANGUL.search(" ".join(words))


# -- reading order -------------------------------------------------------------------------------------


LEFT = [
    "The committee met on Tuesday to",
    "review the budget for the coming",
    "year and agreed to postpone the",
    "vote until the next session.",
]
RIGHT = [
    "Our library opens at nine in the",
    "morning and closes at six in the",
    "evening on weekdays, and at noon",
    "on Saturdays during the winter.",
]


def _two_columns(angle: float = 0.0) -> Image.Image:
    font = _font(DEJAVU, 24)
    img = Image.new("RGB", (1240, 520), "white")
    draw = ImageDraw.Draw(img)
    draw.text((110, 60), "Annual report of the town library", font=_font(DEJAVU, 34), fill="black")
    for i, (a, b) in enumerate(zip(LEFT, RIGHT, strict=True)):
        draw.text((110, 160 + 40 * i), a, font=font, fill="black")
        draw.text((660, 160 + 40 * i), b, font=font, fill="black")
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor="white") if angle else img


@pytest.mark.parametrize("angle", [0.0, 1.2])
def test_two_column_page_reads_column_by_column(engine, angle):
    page = recognize_page(engine, _two_columns(angle), 0, None)
    assert page.text.split(" \n") == ["Annual report of the town library", *LEFT, *RIGHT]
    paragraphs = [p.text.replace("\n", " ") for p in layout.paragraphs(page)]
    assert paragraphs == ["Annual report of the town library", " ".join(LEFT), " ".join(RIGHT)]
    markdown = exports.page_markdown(page)
    assert markdown.index("vote until") < markdown.index("Our library")


def test_form_fields_stay_separate_and_receipt_rows_whole(engine):
    font = _font(DEJAVU, 24)
    img = Image.new("RGB", (1240, 560), "white")
    draw = ImageDraw.Draw(img)
    fields = [("Invoice number: 4471", "Date: 14.03.2025"), ("Customer: Anna Meier", "Phone: 044 123 45 67")]
    for i, (a, b) in enumerate(fields):
        draw.text((110, 60 + 60 * i), a, font=font, fill="black")
        draw.text((700, 60 + 60 * i), b, font=font, fill="black")
    items = [("2x Latte Macchiato", "9.00"), ("1x Croissant", "3.50"), ("Total CHF", "12.50")]
    for i, (label, amount) in enumerate(items):
        draw.text((330, 300 + 50 * i), label, font=font, fill="black")
        draw.text((910 - draw.textlength(amount, font=font), 300 + 50 * i), amount, font=font, fill="black")
    page = recognize_page(engine, img, 0, None)
    assert page.text.split(" \n") == [
        "Invoice number: 4471",
        "Date: 14.03.2025",
        "Customer: Anna Meier",
        "Phone: 044 123 45 67",
        "2x Latte Macchiato 9.00",
        "1x Croissant 3.50",
        "Total CHF 12.50",
    ]


def _box(x0: float, y0: float, width: float, height: float = 30) -> tuple[float, float, float, float]:
    return (x0, y0, x0 + width, y0 + height)


def test_blocks_find_columns_under_a_title_and_leave_tables_as_rows():
    title = [_box(100, 20, 900)]
    left = [_box(100, 100 + 45 * i, 420) for i in range(5)]
    right = [_box(600, 100 + 45 * i, 400) for i in range(4)]
    footer = [_box(100, 400, 900)]
    boxes = title + left + right + footer
    assert blocks(boxes) == [[0], [1, 2, 3, 4, 5], [6, 7, 8, 9], [10]]
    # a receipt: long labels, a narrow column of amounts: one block of rows
    receipt = [b for i in range(6) for b in (_box(300, 100 + 45 * i, 300), _box(850, 100 + 45 * i, 60))]
    assert [sorted(b) for b in blocks(receipt)] == [list(range(12))]


def test_a_long_last_line_reaching_into_the_gutter_stays_in_its_column():
    # the gutter is the middle of the blank the rows share, not the first x inside it: the left column's long
    # last line (to x=560, no right-hand neighbour) does not cross it and cut the columns into regions
    left = [_box(100, 100 + 45 * i, w) for i, w in enumerate((420, 380, 430, 400))] + [_box(100, 280, 460)]
    right = [_box(600, 100 + 45 * i, 400) for i in range(4)]
    assert blocks(left + right) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]


@pytest.mark.parametrize("degrees", [-2.5, 0.0, 2.5])
def test_the_columns_of_a_skewed_page_are_read_one_after_the_other(degrees):
    # 30 rows a column, a gutter of 40 px: over the column's height a 2.5 degree skew moves the rows' gaps by
    # more than the gutter is wide, so no one vertical x lies in all of them until the page is turned back
    import math

    from upstage_ocr.engines.geometry import TextLine, reading_rows

    angle = math.radians(degrees)

    def line(text: str, x0: float, y0: float, width: float) -> TextLine:
        quad = [
            (x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle))
            for x, y in quad_from_box(x0, y0, x0 + width, y0 + 28)
        ]
        return TextLine(points=quad, words=[TextWord(text, 0.99, quad)])

    lines = [line(f"L{i}", 100, 200 + 40 * i, 460 + 10 * (i % 3)) for i in range(30)]
    lines += [line(f"R{i}", 620, 200 + 40 * i, 470) for i in range(30)]
    order = [ln.text for row in reading_rows(lines) for ln in row]
    assert order == [f"L{i}" for i in range(30)] + [f"R{i}" for i in range(30)]


def test_field_breaks():
    row = [_box(100, 0, 250), _box(700, 0, 200)]
    assert field_breaks(row, ["Name: Anna Meier", "Date: 14.03.2025"]) == [1]
    assert field_breaks(row, ["Total CHF", "54.50"]) == []  # a figure stays with its label
    assert field_breaks(row, ["Name:", "Anna Meier"]) == []  # a value after its label
    assert field_breaks([_box(100, 0, 250), _box(380, 0, 200)], ["Anna", "Meier"]) == []  # not far apart


def test_an_unsure_hangul_ending_is_not_dropped():
    """Tesseract read `4층` unsurely and RapidOCR, asked about the word's crop, read only `4` (it cannot read
    Hangul): the word stays `4층` (it once became `4`). Where RapidOCR read more Latin than Tesseract's Latin
    part, the ending was Latin ink misread, and goes."""
    word = TextWord("4층", 0.5, quad_from_box(100, 10, 160, 40))
    assert [w.text for w in hangul.merge_line([], [word], 30, {0: ("4", 0.9)})] == ["4층"]
    word = TextWord("AP스", 0.5, quad_from_box(100, 10, 160, 40))
    assert [w.text for w in hangul.merge_line([], [word], 30, {0: ("APIs", 0.97)})] == ["APIs"]


def test_latin_misread_as_a_hangul_ending_is_latin_again():
    """`kor` read `API` as `4미` (sure, 0.77); RapidOCR reads the word's crop as `API`, sure, as wide as the
    whole box: the ink is Latin. A sure `3월` that RapidOCR reads `3h` keeps its Hangul."""
    word = TextWord("4미", 0.77, quad_from_box(957, 10, 994, 50))
    assert [w.text for w in hangul.merge_line([], [word], 42, {0: ("API", 0.99)})] == ["API"]
    word = TextWord("3월", 0.93, quad_from_box(188, 10, 234, 50))
    assert [w.text for w in hangul.merge_line([], [word], 42, {0: ("3h", 0.97)})] == ["3월"]
    word = TextWord("Logistics를", 0.9, quad_from_box(100, 10, 300, 50))
    assert [w.text for w in hangul.merge_line([], [word], 42, {0: ("Logistics", 0.99)})] == ["Logistics를"]


def _tess_word(pieces: list[tuple[str, float, float, float]]) -> TextWord:
    """A Tesseract `kor` word joined from its TSV pieces (text, confidence, left, right), as line_words keeps it."""
    parts = [TextWord(t, c, quad_from_box(a, 10, b, 40)) for t, c, a, b in pieces]
    conf = sum(p.confidence * len(p.text) for p in parts) / sum(len(p.text) for p in parts)
    left, right = min(a for *_, a, _b in pieces), max(b for *_, b in pieces)
    return TextWord("".join(p.text for p in parts), conf, quad_from_box(left, 10, right, 40), parts)


def test_a_hangul_ending_is_told_from_latin_misread_by_tesseracts_pieces():
    """Real readings of `kor` on mixed lines (bench/local_engine.py's mixed pages), with RapidOCR's reading of
    the word's Latin crop."""
    # `Logistics를`: the Latin misread as digits, unsure; the particle sure: kept on RapidOCR's Latin
    word = _tess_word([("08151165", 0.0, 350, 465), ("를", 0.93, 445, 460)])
    assert [w.text for w in hangul.merge_line([], [word], 30, {0: ("Logistics", 0.99)})] == ["Logistics를"]
    # `5000mAh입니다.`: `사` is `kor` reading the Latin `h` (unsure, over the Latin's box): not Hangul
    word = _tess_word([("500017", 0.52, 581, 724), ("사", 0.37, 673, 702), ("입니다.", 0.93, 731, 785)])
    assert [w.text for w in hangul.merge_line([], [word], 36, {0: ("5000mAh", 0.99)})] == ["5000mAh입니다."]
    # `Slack 채널에`: two words the plain text ran together, a space apart on the line
    word = _tess_word(
        [("5180(", 0.51, 149, 217), ("채", 0.65, 225, 247), ("널", 0.93, 252, 297), ("에", 0.92, 275, 293)]
    )
    assert [w.text for w in hangul.merge_line([], [word], 30, {0: ("Slack", 0.99)})] == ["Slack", "채널에"]
    # `team`: `타68017` is Latin misread, not an ending (Hangul then more Latin)
    word = _tess_word([("540001", 0.54, 100, 200), ("타", 0.0, 210, 230), ("68017", 0.67, 230, 300)])
    assert [w.text for w in hangul.merge_line([], [word], 30, {0: ("support team", 0.99)})] == [
        "support",
        "team",
    ]


def test_unsure_latin_before_a_sure_ending_is_read_again():
    """`kor` is sure of `채널에` but not of `9130` (`Slack`): the word goes to RapidOCR however sure Tesseract is
    of the whole; a sure `2026년에` does not."""
    assert hangul._needs_rapid(
        _tess_word([("9130", 0.66, 154, 222), ("채", 0.93, 229, 251), ("널에", 0.93, 257, 303)])
    )
    assert not hangul._needs_rapid(
        _tess_word([("2026", 0.95, 100, 160), ("년", 0.95, 162, 190), ("에", 0.95, 190, 218)])
    )


def test_a_crop_that_cuts_latin_short_means_there_is_no_hangul_ending():
    """`contact` read `000` `년` `아` by `kor`: the crop left of `아` reads `contac`, a shorter start of what
    RapidOCR read on the line (`contact`): that ink is Latin."""
    word = _tess_word([("000", 0.49, 100, 150), ("년", 0.0, 150, 170), ("아", 0.85, 172, 195)])
    line = TextWord("contact", 0.99, quad_from_box(100, 10, 196, 40))
    out = hangul.merge_line([line], [word], 30, {0: ("contac", 0.9)})
    assert [w.text for w in out] == ["contact"]


def test_digits_between_hangul_syllables_are_not_latin_before_an_ending():
    """`9시~18시)` on a red banner line (real `kor` pieces): RapidOCR read only `|~18)` there, unable to read the
    Hangul. The word is not Latin + ending, so RapidOCR's reading must not replace its start (it once became
    `|~18)시~18시)`); Tesseract, sure of the word, keeps it."""
    word = _tess_word(
        [
            ("9", 0.93, 390, 412),
            ("시", 0.93, 421, 426),
            ("~18", 0.93, 431, 519),
            ("시", 0.91, 480, 506),
            (")", 0.93, 504, 522),
        ]
    )
    rapid = TextWord("|~18)", 0.93, quad_from_box(417, 10, 522, 40))
    assert [w.text for w in hangul.merge_line([rapid], [word], 40, None)] == ["9시~18시)"]


def test_a_blank_stretch_at_the_start_of_a_line_is_hangul_rapidocr_could_not_read():
    """`예약 문의: 010-1234-5678 / help@shop.kr` (a shop's info graphic): RapidOCR's line box starts at x=43 but
    its first word, a `:`, at 185; the Hangul before it was lost until such a line went to Tesseract too."""
    line = TextLine(
        quad_from_box(43, 222, 700, 272),
        [
            TextWord(":", 0.55, quad_from_box(185, 223, 204, 271)),
            TextWord("010-1234-5678", 0.99, quad_from_box(215, 223, 439, 271)),
            TextWord("/", 0.88, quad_from_box(440, 224, 459, 271)),
            TextWord("help@shop.kr", 1.0, quad_from_box(470, 224, 700, 272)),
        ],
    )
    assert hangul.suspect(line)
    assert not hangul.suspect(TextLine(quad_from_box(180, 222, 700, 272), line.words))


def test_a_mark_both_readers_agree_on_is_not_read_again_alone():
    """RapidOCR reads a lone `/` cropped from its line as `1` (0.91); Tesseract and RapidOCR's line both read `/`."""
    word = TextWord("/", 0.84, quad_from_box(405, 10, 417, 40))
    line = TextWord("/", 0.88, quad_from_box(404, 10, 418, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 48, {0: ("1", 0.91)})] == ["/"]
    assert [w.text for w in hangul.merge_line([], [word], 48, {0: ("1", 0.91)})] == ["1"]


def test_a_sure_ending_keeps_the_latin_read_on_its_own_crop():
    """`1,000원` (real `kor` pieces): RapidOCR's line reading over Hangul it cannot read gave `1,00` there, its
    reading of the crop left of `원` gave `1,000`, as long as Tesseract's Latin part: that reading is used."""
    word = _tess_word([("1,000", 0.91, 491, 602), ("원", 0.92, 572, 606)])
    line = TextWord("1,00", 0.9, quad_from_box(491, 10, 570, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 45, {0: ("1,000", 0.99)})] == ["1,000원"]
    # a reading longer than Tesseract's Latin is not taken on a sure ending (`3h` for `3월` when the crop held Hangul)
    word = _tess_word([("3", 0.93, 188, 200), ("월", 0.93, 201, 234)])
    assert [w.text for w in hangul.merge_line([], [word], 42, {0: ("3h", 0.97)})] == ["3월"]


def test_a_blank_between_the_characters_of_a_joined_word_is_hangul_rapidocr_could_not_read():
    """`고객센터 1588-0000` read `卫1588-0000` (0.98, one word from its character pieces): the blank between `卫`
    and `1` is where the rest of the Hangul was."""
    digits = "1588-0000"
    pieces = [TextWord("卫", 0.82, quad_from_box(59, 392, 76, 430))]
    pieces += [
        TextWord(c, 1.0, quad_from_box(179 + 16 * i, 392, 195 + 16 * i, 430)) for i, c in enumerate(digits)
    ]
    word = TextWord("卫" + digits, 0.98, quad_from_box(59, 392, 323, 430), pieces)
    assert hangul.suspect(TextLine(quad_from_box(48, 392, 329, 430), [word]))
    close = [
        pieces[0],
        *(TextWord(p.text, p.confidence, [(x - 100, y) for x, y in p.points]) for p in pieces[1:]),
    ]
    word = TextWord("卫" + digits, 0.98, quad_from_box(59, 392, 223, 430), close)
    assert not hangul.suspect(TextLine(quad_from_box(48, 392, 229, 430), [word]))


def test_an_unsure_ending_under_sure_latin_is_latin():
    """`30% OFF` in bold white on black: `kor` read `OFF` as `0` + `다` (0.0); RapidOCR's line read `OFF` (0.98)
    over all of it."""
    word = _tess_word([("0", 0.82, 371, 406), ("다", 0.0, 417, 472)])
    line = TextWord("OFF", 0.98, quad_from_box(383, 10, 477, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 69, {0: ("01", 0.9)})] == ["OFF"]


def test_closing_marks_after_a_hangul_ending_stay_on_the_word():
    """`(3종)`: `kor` pieces `(3` `종` `)`; RapidOCR's line read `(3)` there and its crop left of `종` `(3`. The
    line's extra `)` is the word's own closing mark, not Latin cut short."""
    word = _tess_word([("(3", 0.93, 403, 427), ("종", 0.93, 434, 455), (")", 0.92, 460, 466)])
    line = TextWord("(3)", 0.84, quad_from_box(400, 10, 471, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 44, {0: ("(3", 0.97)})] == ["(3종)"]


def test_a_latin_box_far_wider_than_its_characters_is_no_evidence_of_latin_ink():
    """`Q&A 게시판 운영` on a banner: RapidOCR read the line as one `&` (0.98) boxed over all of `게시판`; a
    character's box nearly four line heights wide does not make `게시판` Latin."""
    word = TextWord("게시판", 0.97, quad_from_box(290, 144, 430, 184))
    wide = TextWord("&", 0.98, quad_from_box(287, 144, 436, 184))
    assert [w.text for w in hangul.merge_line([wide], [word], 40, None)] == ["게시판"]
    sure = TextWord("short", 0.98, quad_from_box(290, 144, 430, 184))  # Latin that fits its box still counts
    assert [w.text for w in hangul.merge_line([sure], [word], 40, None)] == ["short"]


def test_latin_read_over_sure_hangul_is_not_latin_cut_short():
    """`500ml x 24개입`: RapidOCR's line read `500ml x 247H` (`개` as `7H`, sure), its crop left of `개` read
    `500ml x 24`; `kor` is sure of `개` and `입`, so the crop's reading was not cut short: the Hangul stays."""
    word = _tess_word([("500171!×24", 0.2, 523, 676), ("개", 0.93, 676, 700), ("입", 0.93, 702, 730)])
    line = [
        TextWord("500ml", 0.998, quad_from_box(523, 10, 617, 40)),
        TextWord("x", 1.0, quad_from_box(623, 10, 640, 40)),
        TextWord("247H", 1.0, quad_from_box(646, 10, 710, 40)),
    ]
    out = hangul.merge_line(line, [word], 38, {0: ("500ml x 24", 0.99)})
    assert [w.text for w in out] == ["500ml", "x", "24개입"]


def test_a_lone_mark_kor_is_sure_of_is_not_read_again():
    """`블랙 / 화이트`: RapidOCR reads the crop of a lone `/` as `1`; `kor` read it, sure (0.93)."""
    mark = TextWord("/", 0.93, quad_from_box(190, 300, 204, 346))
    assert not hangul._needs_rapid(mark)
    assert hangul._needs_rapid(TextWord("/", 0.4, mark.points))
    assert hangul._needs_rapid(TextWord("1", 0.93, mark.points))  # a digit or letter is Latin RapidOCR reads


def test_a_hangul_word_run_into_a_price_keeps_its_hangul():
    """`정가 ₩49,000 → 판매가 ₩32,900` (a price graphic; real `kor` pieces): `kor` ran `정가` and the price into
    one word and misread the price; RapidOCR's crop of the part after `정가` reads it. Both are kept (the
    price once replaced the whole word, and `정가` was lost)."""
    word = _tess_word([("정", 0.93, 40, 70), ("가", 0.92, 72, 100), ("\\49,000", 0.9, 104, 244)])
    assert hangul._needs_rapid(word) and hangul._latin_start(word) == 100
    out = hangul.merge_line([], [word], 40, {0: ("₩49,000", 0.97)})
    assert [w.text for w in out] == ["정가₩49,000"]
    spaced = _tess_word([("정", 0.93, 40, 70), ("가", 0.92, 72, 100), ("\\49,000", 0.9, 116, 244)])
    out = hangul.merge_line([], [spaced], 40, {0: ("₩49,000", 0.97)})
    assert [w.text for w in out] == ["정가", "₩49,000"]
    assert hangul._span(out[1].points)[0] == 100
    # Hangul after the Latin is no Hangul start (`제1조` stays Tesseract's)
    assert (
        hangul._hangul_start(_tess_word([("제", 0.93, 0, 20), ("1", 0.93, 21, 30), ("조", 0.93, 31, 50)]))
        is None
    )


def test_a_line_with_sure_syllables_is_hangul_even_beside_an_unsure_word():
    """The same line's `kor` words: `->판매가` (0.45, `매가` at 0.0) pulled the Hangul words' confidence under
    MIN_TESS_CONF, and the line kept RapidOCR's `W49,000→W32,900`; two sure syllables make it Hangul."""
    words = [
        _tess_word([("정", 0.93, 40, 70), ("가", 0.92, 72, 100), ("\\49,000", 0.9, 104, 244)]),
        _tess_word([("->", 0.68, 250, 270), ("판", 0.87, 275, 300), ("매가", 0.0, 300, 350)]),
    ]
    assert hangul._accept(words)
    assert not hangul._accept([words[1]])


def test_sure_digits_before_a_sure_ending_stand_as_kor_read_them():
    """Real `kor` pieces: `1회` (RapidOCR's line read `13` there, `회` partly as `3`) and `(5만원` (the line lost
    the `5`). `kor` reads digits well and is sure of both parts: the words stand. Latin letters misread as
    digits come unsure (`08151165` for `Logistics`) and still go to RapidOCR."""
    word = _tess_word([("1", 0.89, 252, 320), ("회", 0.93, 287, 324)])
    line = TextWord("13", 0.95, quad_from_box(252, 10, 322, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 45, {0: ("13", 0.96)})] == ["1회"]
    word = _tess_word([("(5", 0.93, 159, 185), ("만", 0.93, 189, 213), ("원", 0.96, 218, 237)])
    line = TextWord("(", 0.9, quad_from_box(159, 10, 170, 40))
    assert [w.text for w in hangul.merge_line([line], [word], 40, None)] == ["(5만원"]
    assert hangul._needs_rapid(_tess_word([("08151165", 0.0, 350, 465), ("를", 0.93, 445, 460)]))


def test_latin_just_left_of_a_hangul_word_kor_boxed_after_it_is_kept():
    """`회의실 A동`: `kor` read only `동` (0.13), boxed after the `A` RapidOCR's line read (0.82): `A동`."""
    word = TextWord("동", 0.13, quad_from_box(576, 291, 600, 336))
    a = TextWord("A", 0.82, quad_from_box(546, 291, 569, 336))
    assert [w.text for w in hangul.merge_line([a], [word], 45, {0: ("h", 0.52)})] == ["A동"]
    far = TextWord("A", 0.82, quad_from_box(545, 291, 566, 336))  # a space (10 px) before `동`
    assert [w.text for w in hangul.merge_line([far], [word], 45, {0: ("h", 0.52)})] == ["A", "동"]


def test_sure_digits_give_way_to_letters_rapidocr_surely_read_there():
    """`A동` read `4동` by `kor` (0.88 and 0.92): RapidOCR read `A` there, surely; `1회` keeps its digit when
    RapidOCR read only digits (`13`)."""
    word = _tess_word([("4", 0.88, 441, 461), ("동", 0.92, 473, 502)])
    # (spaces aside: whether `A` and `동` are one word is the SPACED rule's call)
    assert "".join(w.text for w in hangul.merge_line([], [word], 60, {0: ("A", 0.99)})) == "A동"
    line = TextWord("A", 0.97, quad_from_box(440, 10, 462, 40))
    assert "".join(w.text for w in hangul.merge_line([line], [word], 60, {0: ("A", 0.5)})) == "A동"
    assert [w.text for w in hangul.merge_line([], [word], 60, {0: ("4", 0.99)})] == ["4동"]
