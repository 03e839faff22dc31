"""The text layer of PDF pages: when it is trusted, and the words and boxes it gives (real pdfium, no mocks)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pypdfium2.raw as raw
import pytest
from PIL import Image

from helpers import page_image
from textpdf import TextPdf, cjk_font, ink_box, render_grey, text_image
from upstage_ocr import textlayer
from upstage_ocr.inputs.documents import DEFAULT_DPI
from upstage_ocr.inputs.pdf_pages import PDFIUM_LOCK

PROSE = [
    "Quarterly report for the board, March 2026.",
    "Revenue grew 14.5% to $3,210,000 (see table 2).",
    "Invoice INV-4821 is due on 2026-04-30.",
]


def _read(path, page: int = 1) -> textlayer.PageResult:
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(str(path))
        try:
            return textlayer.read_page(doc[page - 1], page - 1, DEFAULT_DPI / 72)
        finally:
            doc.close()


def _chars(path, page: int = 1) -> list[textlayer.Char]:
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(str(path))
        try:
            pdf_page = doc[page - 1]
            text_page = pdf_page.get_textpage()
            return textlayer.read_chars(pdf_page, text_page.raw, 1240, 1755)
        finally:
            doc.close()


def _prose_pdf(path, lines=PROSE, size=12):
    pdf = TextPdf().new_page()
    for i, line in enumerate(lines):
        pdf.text(line, 72, 760 - i * 2 * size, size)
    return pdf.save(path)


def test_a_born_digital_page_gives_its_exact_words_with_boxes_on_the_ink(tmp_path):
    path = _prose_pdf(tmp_path / "report.pdf")
    result = _read(path)
    assert result.verdict.trusted, result.verdict
    page = result.page
    assert page is not None and (page.width, page.height) == (1240, 1755)  # A4 at 150 DPI, as OCR renders it
    assert [w.text for w in page.words] == " ".join(PROSE).split()
    assert page.text == " \n".join(PROSE)
    assert all(w.confidence == 1.0 for w in page.words) and page.confidence == 1.0
    grey = render_grey(path)
    for word in page.words:
        ink = ink_box(grey, word.bbox())
        assert max(abs(a - b) for a, b in zip(word.bbox(), ink, strict=True)) <= 2, (
            word.text,
            word.bbox(),
            ink,
        )


def test_an_image_only_pdf_has_no_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    page_image(3).save(path, format="PDF", resolution=72.0)
    result = _read(path)
    assert not result.verdict.trusted and result.page is None
    assert result.verdict.reason == "no text layer"


def test_a_scan_with_an_invisible_ocr_layer_is_not_trusted(tmp_path):
    pdf = TextPdf().new_page().image(text_image(PROSE))
    for i, line in enumerate(PROSE):  # where an earlier OCR put its hidden words
        pdf.text(line, 72, 770 - i * 27, 13, mode=raw.FPDF_TEXTRENDERMODE_INVISIBLE)
    result = _read(pdf.save(tmp_path / "ocrd.pdf"))
    assert not result.verdict.trusted
    assert "invisible" in result.verdict.reason


def test_a_scan_under_which_ocr_text_is_drawn_is_not_trusted(tmp_path):
    pdf = TextPdf().new_page()
    for i, line in enumerate(PROSE):  # visible text, but the scan is drawn over it
        pdf.text(line, 72, 770 - i * 27, 13)
    pdf.image(text_image(PROSE))
    result = _read(pdf.save(tmp_path / "under.pdf"))
    assert not result.verdict.trusted and "covered" in result.verdict.reason


def test_a_scan_with_a_digital_footer_is_not_trusted(tmp_path):
    pdf = TextPdf().new_page().image(text_image(PROSE * 6), 0, 60, 595, 782).text("Page 7 of 9", 270, 30, 9)
    result = _read(pdf.save(tmp_path / "footer.pdf"))
    assert not result.verdict.trusted and "ink outside" in result.verdict.reason
    assert result.verdict.stats["coverage"] < 0.2


def test_white_text_on_a_white_page_is_not_trusted(tmp_path):
    pdf = TextPdf().new_page()
    for i, line in enumerate(PROSE):
        pdf.text(line, 72, 760 - i * 24, 12)
    raw_page = pdf.page.raw
    for i in range(raw.FPDFPage_CountObjects(raw_page)):
        raw.FPDFPageObj_SetFillColor(raw.FPDFPage_GetObject(raw_page, i), 255, 255, 255, 255)
    result = _read(pdf.save(tmp_path / "white.pdf"))
    assert not result.verdict.trusted and "without ink" in result.verdict.reason


def test_junk_characters_make_the_layer_untrusted():
    box = (10.0, 10.0, 18.0, 20.0)
    grey = __import__("numpy").full((100, 100), 255, dtype="uint8")
    grey[12:19, 11:17] = 0  # a glyph (smaller than a rule, which would not count as ink)
    good = [textlayer.Char("a", box) for _ in range(60)]
    assert textlayer.judge(good, grey, 1.0).trusted
    junk = good + [textlayer.Char("\ue000", box, junk=True) for _ in range(3)]
    verdict = textlayer.judge(junk, grey, 1.0)
    assert not verdict.trusted and "junk" in verdict.reason
    assert textlayer.is_junk("\ufffd") and textlayer.is_junk("\x03") and not textlayer.is_junk("é")


def test_table_rules_do_not_count_as_uncovered_ink(tmp_path):
    pdf = TextPdf().new_page()
    for i, line in enumerate(PROSE):
        pdf.text(line, 72, 760 - i * 24, 12)
    import pypdfium2 as pdfium_mod

    for y in (745, 721, 697, 673):  # the rules of a table around the lines
        rule = pdfium_mod.raw.FPDFPageObj_CreateNewRect(60, y, 470, 1.2)
        pdfium_mod.raw.FPDFPageObj_SetFillColor(rule, 0, 0, 0, 255)
        pdfium_mod.raw.FPDFPath_SetDrawMode(rule, pdfium_mod.raw.FPDF_FILLMODE_WINDING, False)
        pdfium_mod.raw.FPDFPage_InsertObject(pdf.page.raw, rule)
    result = _read(pdf.save(tmp_path / "table.pdf"))
    assert result.verdict.trusted, result.verdict


def test_two_columns_are_separate_lines(tmp_path):
    pdf = TextPdf().new_page()
    pdf.text("Left column text", 72, 700, 11).text("Right column words", 330, 700, 11)
    result = _read(pdf.save(tmp_path / "cols.pdf"))
    assert result.page is not None
    assert [w.text for w in result.page.words] == ["Left", "column", "text", "Right", "column", "words"]
    chars = _chars(tmp_path / "cols.pdf")
    lines = textlayer.group_lines(textlayer.group_words(chars))  # the gutter splits the lines
    assert [ln.text for ln in lines] == ["Left column text", "Right column words"]


@pytest.mark.skipif(cjk_font() is None, reason="fonts-noto-cjk is not installed")
def test_cjk_text_keeps_its_runs_without_inserted_spaces(tmp_path):
    pdf = TextPdf().new_page()
    pdf.text("我们的产品将于明天上午送达。", 72, 760, 14, font="cjk")
    pdf.text("製品は明日の午前に届きます。", 72, 730, 14, font="cjk")
    pdf.text("서울시 강남구 123번지 4층", 72, 700, 14, font="cjk")
    path = pdf.save(tmp_path / "cjk.pdf")
    result = _read(path)
    assert result.verdict.trusted, result.verdict
    page = result.page
    assert page is not None
    assert [w.text for w in page.words] == [
        "我们的产品将于明天上午送达。",
        "製品は明日の午前に届きます。",
        "서울시",
        "강남구",
        "123번지",
        "4층",
    ]
    assert (
        page.text == "我们的产品将于明天上午送达。 \n製品は明日の午前に届きます。 \n서울시 강남구 123번지 4층"
    )
    grey = render_grey(path)
    for word in page.words:
        ink = ink_box(grey, word.bbox())
        assert max(abs(a - b) for a, b in zip(word.bbox(), ink, strict=True)) <= 2, (
            word.text,
            word.bbox(),
            ink,
        )


def test_a_rotated_page_maps_boxes_into_the_rotated_render(tmp_path):
    path = _prose_pdf(tmp_path / "rot.pdf")
    doc = pdfium.PdfDocument(str(path))
    doc[0].set_rotation(90)
    doc.save(str(tmp_path / "rot90.pdf"))
    doc.close()
    result = _read(tmp_path / "rot90.pdf")
    page = result.page
    assert page is not None and (page.width, page.height) == (1755, 1240)
    grey = render_grey(tmp_path / "rot90.pdf")
    assert grey.shape == (1240, 1755)
    for word in page.words:
        ink = ink_box(grey, word.bbox())
        assert max(abs(a - b) for a, b in zip(word.bbox(), ink, strict=True)) <= 2, (
            word.text,
            word.bbox(),
            ink,
        )


def test_rules_are_straight_ink_runs_of_the_given_length_even_at_the_edges():
    import numpy as np

    ink = np.zeros((6, 12), np.uint8)
    ink[0, 0:4] = 1  # a 4-long run along the top edge, from the left edge
    ink[2, 1:9] = 1  # an 8-long run inside
    ink[4, 9:12] = 1  # 3 long: too short
    ink[1:6, 11] = 1  # a 5-long vertical run along the right edge
    rules = textlayer._rules(ink, 4).astype(bool)
    expected = np.zeros_like(rules)
    expected[0, 0:4] = expected[2, 1:9] = True
    expected[1:6, 11] = True
    assert (rules == expected).all(), rules.astype(int)


def _rect(pdf, x, y, w, h, grey, *, fill=True):
    rect = raw.FPDFPageObj_CreateNewRect(x, y, w, h)
    raw.FPDFPageObj_SetFillColor(rect, grey, grey, grey, 255)
    raw.FPDFPath_SetDrawMode(rect, raw.FPDF_FILLMODE_WINDING if fill else raw.FPDF_FILLMODE_NONE, False)
    raw.FPDFPage_InsertObject(pdf.page.raw, rect)
    return pdf


def test_a_page_drawn_only_as_text_is_judged_without_rendering(tmp_path, monkeypatch):
    pdf = _rect(TextPdf().new_page(), 0, 0, 595, 842, 255)  # a white background under the text, as Word draws
    for i, line in enumerate(PROSE):
        pdf.text(line, 72, 760 - i * 24, 12)
    _rect(pdf, 60, 700, 470, 0.8, 0)  # and a rule
    path = pdf.save(tmp_path / "plain.pdf")

    def no_render(*_args, **_kwargs):
        raise AssertionError("a page drawn only as text was rendered")

    monkeypatch.setattr(pdfium.PdfPage, "render", no_render)
    result = _read(path)
    assert result.verdict.trusted and not result.verdict.rendered, result.verdict
    assert result.page is not None and [w.text for w in result.page.words] == " ".join(PROSE).split()


@pytest.mark.parametrize("logo", [False, True])
def test_dot_leaders_of_a_table_of_contents_are_text(tmp_path, logo):
    """Dot leaders are too small to leave ink at the trust check's 48 DPI; a page of them is still text, judged
    from its objects or (with a logo on it) on its render."""
    pdf = TextPdf().new_page()
    for i in range(12):
        pdf.text(f"{i + 1} Chapter {i + 1} " + ". " * 40 + f"{3 * i + 1}", 72, 760 - i * 18, 10)
    if logo:
        pdf.image(Image.new("RGB", (60, 60), (200, 30, 30)), 480, 780, 40, 40)
    result = _read(pdf.save(tmp_path / "toc.pdf"))
    assert result.verdict.trusted and result.verdict.rendered is logo, result.verdict
    assert result.page is not None and result.page.words[-1].text == "34"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("outlines", "ink outside"),  # most of the page's text drawn as filled shapes, a line of real text
        ("covered", "without ink"),  # a white box drawn over the text (a redaction done wrong)
        ("light", "without ink"),  # text too light to be ink
    ],
)
def test_pages_drawing_more_than_plain_text_are_rendered_and_checked(tmp_path, case, reason):
    pdf = TextPdf().new_page()
    pdf.text("Page 7 of 9", 270, 30, 9)
    if case == "outlines":
        for row in range(30):  # "glyphs": small filled shapes, line after line
            for col in range(40):
                _rect(pdf, 72 + col * 11, 780 - row * 22, 7, 9, 0)
    else:
        for i, line in enumerate(PROSE):
            pdf.text(line, 72, 760 - i * 24, 12)
        if case == "covered":
            _rect(pdf, 0, 0, 595, 842, 255)
        else:
            raw_page = pdf.page.raw
            for i in range(raw.FPDFPage_CountObjects(raw_page)):
                raw.FPDFPageObj_SetFillColor(raw.FPDFPage_GetObject(raw_page, i), 215, 215, 215, 255)
    result = _read(pdf.save(tmp_path / f"{case}.pdf"))
    assert result.verdict.rendered and not result.verdict.trusted, result.verdict
    assert reason in result.verdict.reason


@pytest.mark.parametrize(("kind", "rendered"), [(raw.FPDF_ANNOT_LINK, False), (raw.FPDF_ANNOT_STAMP, True)])
def test_a_page_with_annotations_that_draw_is_rendered_to_be_judged(tmp_path, kind, rendered):
    """Form field values, stamps and notes are drawn by annotations, not page objects: such a page is
    judged on its render (a link draws nothing)."""
    pdf = TextPdf().new_page()
    for i, line in enumerate(PROSE):
        pdf.text(line, 72, 760 - i * 24, 12)
    annot = raw.FPDFPage_CreateAnnot(pdf.page.raw, kind)
    rect = raw.FS_RECTF(72, 700, 300, 600)  # left, top, right, bottom
    assert raw.FPDFAnnot_SetRect(annot, rect)
    raw.FPDFPage_CloseAnnot(annot)
    result = _read(pdf.save(tmp_path / "annotated.pdf"))
    assert result.verdict.trusted and result.verdict.rendered is rendered, result.verdict


def test_text_off_the_page_is_not_trusted_without_a_render(tmp_path):
    pdf = TextPdf().new_page()
    pdf.text("Visible heading", 72, 760, 12)
    for i in range(10):  # what a generator parked outside the page
        pdf.text("hidden keywords for search engines " * 2, 700, 760 - i * 14, 10)
    result = _read(pdf.save(tmp_path / "off.pdf"))
    assert not result.verdict.trusted and not result.verdict.rendered
    assert "without ink" in result.verdict.reason
