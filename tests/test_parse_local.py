"""The local parse engine on pages rendered from known content: categories, reading order, table cells.

Fast tests take each word's box from the renderer (what a PDF text layer gives); the `slow` ones read the
same pages with the local OCR engine first, as the local parse backend does for scans.
"""

from __future__ import annotations

import re

import pytest

from parse_pages import (
    Expected,
    RenderedPage,
    figure_page,
    korean_page,
    mixed_page,
    report_page,
    scanned,
    table_page,
    three_column_page,
    two_column_page,
)
from upstage_ocr.errors import InputError
from upstage_ocr.parse_models import Element
from upstage_ocr.parsing import assemble, parse_page


def md_table(markdown: str) -> list[list[str]]:
    """A Markdown pipe table back into rows of cell texts (the separator row dropped)."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and not all(set(c) <= {"-", ":"} for c in cells):
            rows.append(cells)
    return rows


def flat(el: Element) -> str:
    return " ".join(el.content.text.split())


def expected_text(e: Expected) -> str:
    return " ".join(e.items) if e.category == "list" else e.text


def assert_matches(page: RenderedPage, elements: list[Element]) -> None:
    assert [el.category for el in elements] == [e.category for e in page.expected], page.name
    for el, exp in zip(elements, page.expected, strict=True):
        if exp.category == "table":
            assert md_table(el.content.markdown) == exp.cells
        elif exp.category == "list":
            marks = [f"{i}." if exp.numbered else "-" for i in range(1, len(exp.items) + 1)]
            assert el.content.markdown.splitlines() == [
                f"{m} {item}" for m, item in zip(marks, exp.items, strict=True)
            ]
            assert el.content.html.startswith("<ol" if exp.numbered else "<ul")
        else:
            assert flat(el) == exp.text


@pytest.mark.parametrize(
    "make",
    [report_page, two_column_page, korean_page, figure_page, three_column_page, mixed_page],
    ids=lambda f: f.__name__,
)
def test_text_layer_pages(make):
    page = make()
    assert_matches(page, parse_page(page.image, page.words, 1))


@pytest.mark.parametrize("style", ["grid", "rules", "none"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_generated_tables_every_cell_in_its_row_and_column(style, seed):
    """3-8 rows by 3-6 columns, with every rule, with three horizontal rules only, and with no rules at all."""
    page = table_page(seed, style)
    assert_matches(page, parse_page(page.image, page.words, 1))


def test_two_columns_read_column_by_column_even_when_paragraph_gaps_line_up():
    page = two_column_page()
    texts = [flat(el) for el in parse_page(page.image, page.words, 1)]
    assert texts[1:] == [e.text for e in page.expected[1:]]  # left column's three, then the right column's


def test_elements_carry_page_and_relative_coordinates():
    page = report_page()
    elements = parse_page(page.image, page.words, 7)
    assert {el.page for el in elements} == {7}
    for el in elements:
        xs = [v.x for v in el.coordinates]
        ys = [v.y for v in el.coordinates]
        assert len(el.coordinates) == 4 and all(0 <= v <= 1 for v in xs + ys)
        assert xs[0] < xs[1] and ys[1] < ys[2]
    table = next(el for el in elements if el.category == "table")
    footer = elements[-1]
    assert footer.category == "footer" and footer.coordinates[0].y > 0.9
    assert table.coordinates[0].y > elements[1].coordinates[2].y  # below the heading


def test_html_and_markdown_follow_upstage_style():
    page = report_page()
    els = parse_page(page.image, page.words, 1)
    by_cat = {el.category: el for el in els}
    assert re.fullmatch(
        r"<h1 id='1' style='font-size:\d+px'>Warehouse Operations Summary</h1>",
        by_cat["heading1"].content.html,
    )
    assert by_cat["heading1"].content.markdown == "# Warehouse Operations Summary"
    assert re.match(
        r"<p id='2' data-category='paragraph' style='font-size:\d+px'>The third", els[2].content.html
    )
    assert by_cat["list"].content.html.count("<li>") == 3 and by_cat["list"].content.html.startswith(
        "<ul id="
    )
    assert by_cat["header"].content.html.startswith("<header id='0'")
    table_html = by_cat["table"].content.html
    assert (
        table_html.startswith("<table id=")
        and table_html.count("<tr>") == 5
        and table_html.count("<td>") == 20
    )
    assert "<td>$48,160</td>" in table_html


def test_assemble_numbers_elements_across_pages_and_blanks_formats_not_asked_for():
    pages = [report_page(), korean_page()]
    per_page = [parse_page(p.image, p.words, n) for n, p in enumerate(pages, 1)]
    result = assemble(per_page, ["markdown", "text"])
    assert [el.id for el in result.elements] == list(range(sum(len(p) for p in per_page)))
    assert [el.page for el in result.elements] == [1] * len(per_page[0]) + [2] * len(per_page[1])
    assert all(el.content.html == "" for el in result.elements) and result.content.html == ""
    assert result.content.markdown.startswith(
        "Harbor Logistics quarterly review\n\n# Warehouse Operations Summary"
    )
    assert "| 서울 | 940만 | 605 |" in result.content.markdown
    assert result.usage.pages == 2 and result.model.startswith("local-parse") and result.api == "2.0"
    data = result.to_json_dict()
    assert set(data) == {"api", "content", "elements", "model", "usage"}


def test_assemble_rewrites_html_ids_to_the_global_ones():
    page = korean_page()
    one = parse_page(page.image, page.words, 1)
    result = assemble([one, one], ["html"])
    second_heading = result.elements[len(one)]
    assert second_heading.content.html.startswith(f"<h1 id='{len(one)}'")
    assert result.content.html.count("<table id=") == 2 and result.content.markdown == ""


def test_unknown_output_format_is_a_one_line_input_error():
    with pytest.raises(InputError, match="unknown output format 'pdf'"):
        assemble([], ["html", "pdf"])


def test_a_page_without_words_gives_no_elements_and_still_counts():
    from PIL import Image

    assert parse_page(Image.new("RGB", (600, 800), "white"), [], 1) == []
    assert assemble([[], []], ["html"]).usage.pages == 2


def test_base64_crops_for_the_categories_asked():
    page = report_page()
    els = parse_page(page.image, page.words, 1, base64_categories=["table"])
    table = next(el for el in els if el.category == "table")
    assert table.model_dump()["base64_encoding"].startswith("iVBOR")
    assert all("base64_encoding" not in el.model_dump() for el in els if el.category != "table")


def norm(text: str) -> str:
    return re.sub(r"[\s.,]", "", text)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "engine", "lang"),
    [
        (report_page, "local", None),
        (two_column_page, "local", None),
        (korean_page, "local-kor", "ko"),
        (figure_page, "local", None),
        (lambda: scanned(report_page()), "local", None),
        (lambda: scanned(table_page(6, "none"), angle=-0.5), "local", None),
    ],
    ids=["report", "two-column", "korean", "figure", "report-scan", "unruled-table-scan"],
)
def test_ocr_words_pages(make, engine, lang):
    from upstage_ocr.engines.base import get_engine
    from upstage_ocr.jobs.local_backend import recognize_page

    page = make()
    words = recognize_page(get_engine(engine), page.image, 0, lang).words
    elements = parse_page(page.image, words, 1)
    assert [el.category for el in elements] == [e.category for e in page.expected]
    for el, exp in zip(elements, page.expected, strict=True):
        if exp.category == "table":
            got = md_table(el.content.markdown)
            assert [[norm(c) for c in row] for row in got] == [[norm(c) for c in row] for row in exp.cells]
        elif exp.category == "paragraph":  # reading order: each paragraph's opening and closing words
            assert (
                flat(el).split()[:2] == exp.text.split()[:2] and flat(el).split()[-1] == exp.text.split()[-1]
            )


def test_a_missing_rule_merges_cells_into_a_span():
    from parse_pages import SANS, Canvas, font

    c = Canvas()
    f = font(SANS, 24)
    rows = [
        ["Item", "Sales", "", "Notes"],
        ["Pens", "120", "130", "steady"],
        ["Ink", "45", "60", "up"],
        ["Pads", "80", "75", "down"],
    ]
    widths = [200, 160, 160, 220]
    c.table(110, 200, widths, rows, f)
    row_h = f.size * 2.2
    sep = 110 + 200 + 160  # the rule between the two Sales columns, erased in the header row only
    c.draw.line([(sep, 200 + 3), (sep, 200 + row_h - 3)], fill="white", width=4)
    (table,) = parse_page(c.image, c.words, 1)
    assert "<td colspan='2'>Sales</td>" in table.content.html
    assert table.content.html.count("<tr>") == 4 and table.content.html.count("<td>") == 2 + 12
    assert md_table(table.content.markdown) == rows


def test_a_dark_scan_edge_is_not_a_figure_swallowing_the_text():
    from PIL import ImageDraw

    page = report_page()
    image = page.image.copy()
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 1239, 1753], outline="black", width=30)  # a scanner's shadow round the sheet
    assert_matches(page, parse_page(image, page.words, 1))
