"""Every export format, written from the real cookbook results and read back with an independent reader."""

from __future__ import annotations

import csv
import io
import json
import re
import stat
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from upstage_ocr.errors import ConfigError, InputError, OutputPathError
from upstage_ocr.models import OCRResult, Page, RawWord, build_page, parse_result
from upstage_ocr.output import overlay
from upstage_ocr.output import reading as layout
from upstage_ocr.output import writers as exports
from upstage_ocr.vocab import EXPORT_FORMATS

IMAGES = {"dpi_150": "dpi_150.jpg", "reciepts": "reciepts.jpg", "check_box": "check_box.png"}


def load(fixtures_dir: Path, name: str) -> OCRResult:
    return parse_result(json.loads((fixtures_dir / f"{name}.json").read_text(encoding="utf-8")))


def images_for(fixtures_dir: Path, name: str, result: OCRResult):
    """page_image(i) for a fixture: the image file, or multi_page.pdf rendered at the JSON's page size."""
    if name in IMAGES:
        path = fixtures_dir / IMAGES[name]
        return lambda i: Image.open(path)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(fixtures_dir / "multi_page.pdf"))

    def render(i: int) -> Image.Image:
        page = result.pages[i]
        pdf_page = pdf[i]
        width_pt, _ = pdf_page.get_size()
        image = pdf_page.render(scale=page.width / width_pt).to_pil()
        return image.resize((page.width, page.height))

    return render


def words_of(result: OCRResult) -> list[str]:
    return [w.text for p in result.pages for w in p.words]


def assert_private_file(path: Path) -> None:
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


def synthetic_page(texts_by_line: list[list[str]], *, width=800, height=300, conf=0.95, line_h=40) -> Page:
    raw = []
    for li, texts in enumerate(texts_by_line):
        x = 20
        for t in texts:
            w = 18 * len(t) + 10
            y = 30 + li * (line_h + 20)
            raw.append(
                RawWord(
                    text=t,
                    confidence=conf,
                    points=[(x, y), (x + w, y), (x + w, y + line_h), (x, y + line_h)],
                    line=li,
                )
            )
            x += w + 20
    return build_page(0, width, height, raw, 0)


FIXTURES = ["dpi_150", "reciepts", "check_box", "multi_page"]


# --------------------------------------------------------------------------------------------------
# API, errors, atomic writes


def test_formats_and_unknown_format(tmp_path):
    assert EXPORT_FORMATS == ("txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay")
    with pytest.raises(ConfigError) as err:
        exports.export([], "rtf", tmp_path / "x.rtf")
    assert "txt, md, json, csv, docx, hocr, pdf, overlay" in str(err.value)


@pytest.mark.parametrize("fmt", ["pdf", "overlay"])
def test_image_formats_need_page_images(tmp_path, fmt):
    page = synthetic_page([["hello"]])
    with pytest.raises(InputError, match="original page images"):
        exports.export([page], fmt, tmp_path / f"x.{fmt}")
    assert not list(tmp_path.iterdir())


def test_missing_directory_is_an_output_path_error(tmp_path):
    with pytest.raises(OutputPathError):
        exports.export([synthetic_page([["a"]])], "txt", tmp_path / "nope" / "x.txt")


def test_failure_midway_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")

    def broken(i: int) -> Image.Image:
        if i == 1:
            raise RuntimeError("renderer died")
        return Image.new("RGB", (800, 300), "white")

    with pytest.raises(RuntimeError):
        exports.export([synthetic_page([["a"]]), synthetic_page([["b"]])], "pdf", target, page_image=broken)
    assert target.read_bytes() == b"old"  # the old file is untouched, the temp file is gone
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


# --------------------------------------------------------------------------------------------------
# txt, md


@pytest.mark.parametrize("name", FIXTURES)
def test_txt(fixtures_dir, tmp_path, name):
    result = load(fixtures_dir, name)
    out = exports.export(iter(result.pages), "txt", tmp_path / "r.txt")
    assert out == [tmp_path / "r.txt"]
    assert_private_file(out[0])
    pages = out[0].read_text(encoding="utf-8").split("\f")
    assert [p.rstrip("\n") for p in pages] == [p.text for p in result.pages]


def _md_plain(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


@pytest.mark.parametrize("name", FIXTURES)
def test_md_has_every_word_in_page_sections(fixtures_dir, tmp_path, name):
    result = load(fixtures_dir, name)
    (out,) = exports.export(iter(result.pages), "md", tmp_path / "r.md", title="My scan")
    assert_private_file(out)
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# My scan\n")
    sections = re.split(r"^## Page \d+$", md, flags=re.M)[1:]
    assert len(sections) == len(result.pages)
    for section, page in zip(sections, result.pages, strict=True):
        plain = _md_plain(section)
        for w in page.words:
            assert w.text in plain
    if name == "reciepts":
        print(md[:600])


def test_md_escapes_markdown_syntax():
    page = synthetic_page([["#", "1", "*bold*"], ["30.", "07.2007"], ["-", "item"]])
    md = exports.page_markdown(page)
    assert "\\#" in md and "\\*bold\\*" in md and "30\\." in md and "\\- item" in md
    assert _md_plain(md).split() == ["#", "1", "*bold*", "30.", "07.2007", "-", "item"]


def test_md_reads_two_columns_column_by_column():
    raw = []
    for col, x0 in ((0, 40), (1, 640)):
        for li in range(6):
            y = 40 + li * 50
            for k in range(3):
                x = x0 + k * 170
                raw.append(
                    RawWord(
                        text=f"c{col}l{li}w{k}",
                        confidence=0.9,
                        points=[(x, y), (x + 150, y), (x + 150, y + 36), (x, y + 36)],
                        line=li,
                    )
                )
    page = build_page(0, 1200, 400, raw, 0)
    order = _md_plain(exports.page_markdown(page)).split()
    assert order == [w.text for w in sorted(page.words, key=lambda w: (w.text[1], w.text[3], w.text[5]))]


def test_md_paragraphs_from_gaps():
    raw = []
    ys = [40, 90, 140, 320, 370]  # a big gap after the third line
    for li, y in enumerate(ys):
        raw.append(
            RawWord(
                text=f"line{li}",
                confidence=0.9,
                points=[(40, y), (200, y), (200, y + 36), (40, y + 36)],
                line=li,
            )
        )
    paras = layout.paragraphs(build_page(0, 800, 500, raw, 0))
    assert [len(p.lines) for p in paras] == [3, 2]


# --------------------------------------------------------------------------------------------------
# json, csv


@pytest.mark.parametrize("name", FIXTURES)
def test_json_is_the_upstage_shape(fixtures_dir, tmp_path, name):
    result = load(fixtures_dir, name)
    meta = {"modelVersion": result.modelVersion, "numBilledPages": result.numBilledPages}
    (out,) = exports.export((p for p in result.pages), "json", tmp_path / "r.json", result_meta=meta)
    assert_private_file(out)
    data = json.loads(out.read_text(encoding="utf-8"))
    original = json.loads((fixtures_dir / f"{name}.json").read_text(encoding="utf-8"))
    assert data == original
    assert list(data) == list(original)  # the API's key order
    assert OCRResult.model_validate(data) == result


def test_json_renumbers_a_page_subset(fixtures_dir, tmp_path):
    result = load(fixtures_dir, "multi_page")
    (out,) = exports.export(result.pages[1:], "json", tmp_path / "r.json")
    data = OCRResult.model_validate_json(out.read_text(encoding="utf-8"))
    assert [p.id for p in data.pages] == [0, 1]
    assert data.pages[0].words[0].id == 0
    assert data.pages[1].words[0].id == len(result.pages[1].words)
    assert data.numBilledPages == 2 and data.text == result.pages[1].text + result.pages[2].text
    assert data.confidence == min(p.confidence for p in result.pages[1:])


def test_json_from_stored_page_data_is_the_same_file(fixtures_dir, tmp_path):
    # A job's result is written from the pages' stored JSON (dicts, no models): byte for byte the file the
    # Page objects give, source metadata included and page ids and word ids renumbered.
    result = load(fixtures_dir, "multi_page")
    pages = [p.model_copy(update={"id": 7}) for p in result.pages[1:]]
    pages[0].__pydantic_extra__["source"] = "text-layer"
    meta = {"modelVersion": "m", "numBilledPages": 2}
    (a,) = exports.export(pages, "json", tmp_path / "a.json", result_meta=meta)
    data = [json.loads(p.model_dump_json()) for p in pages]
    (b,) = exports.export(data, "json", tmp_path / "b.json", result_meta=meta)
    assert a.read_bytes() == b.read_bytes()
    written = json.loads(b.read_text(encoding="utf-8"))
    assert [p["id"] for p in written["pages"]] == [0, 1]
    assert written["pages"][1]["words"][0]["id"] == len(pages[0].words)
    assert written["metadata"]["pages"][0]["source"] == "text-layer" and "source" not in written["pages"][0]


@pytest.mark.parametrize("name", FIXTURES)
def test_csv_one_row_per_word(fixtures_dir, tmp_path, name):
    result = load(fixtures_dir, name)
    (out,) = exports.export(result.pages, "csv", tmp_path / "r.csv")
    assert_private_file(out)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    words = [(i + 1, w) for i, p in enumerate(result.pages) for w in p.words]
    assert len(rows) == len(words)
    for row, (page_no, w) in zip(rows, words, strict=True):
        assert int(row["page"]) == page_no and int(row["word_id"]) == w.id and row["text"] == w.text
        assert float(row["confidence"]) == w.confidence
        assert tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1")) == w.bbox()
        assert float(row["v2_x"]) == w.boundingBox.vertices[2].x


def test_csv_quotes_awkward_text(tmp_path):
    page = synthetic_page([["a,b", 'say "hi"', "two\nlines", "=1+1"]])
    (out,) = exports.export([page], "csv", tmp_path / "r.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    assert texts == ["a,b", 'say "hi"', "two\nlines", "=1+1"]


# --------------------------------------------------------------------------------------------------
# docx, hocr


@pytest.mark.parametrize("name", ["dpi_150", "multi_page"])
def test_docx(fixtures_dir, tmp_path, name):
    import docx

    result = load(fixtures_dir, name)
    (out,) = exports.export(result.pages, "docx", tmp_path / "r.docx", title="Scan")
    assert_private_file(out)
    document = docx.Document(str(out))
    assert len(document.sections) == len(result.pages)
    assert document.core_properties.title == "Scan"
    text = "\n".join(p.text for p in document.paragraphs)
    for w in words_of(result):
        assert w in text


@pytest.mark.parametrize("name", FIXTURES)
def test_hocr_parses_with_boxes_and_confidences(fixtures_dir, tmp_path, name):
    from lxml import etree

    result = load(fixtures_dir, name)
    (out,) = exports.export(result.pages, "hocr", tmp_path / "r.hocr")
    assert_private_file(out)
    tree = etree.parse(str(out))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = tree.xpath("//h:div[@class='ocr_page']", namespaces=ns)
    assert len(pages) == len(result.pages)
    for div, page in zip(pages, result.pages, strict=True):
        assert f"bbox 0 0 {page.width} {page.height}" in div.get("title")
        spans = div.xpath(".//h:span[@class='ocrx_word']", namespaces=ns)
        assert len(spans) == len(page.words)
        assert len(div.xpath(".//h:span[@class='ocr_line']", namespaces=ns)) >= 1
        by_id = {w.id: w for w in page.words}
        for span in spans:
            word = by_id[int(span.get("id").rsplit("_", 1)[1])]
            m = re.fullmatch(r"bbox (\d+) (\d+) (\d+) (\d+); x_wconf (\d+)", span.get("title"))
            assert m, span.get("title")
            assert tuple(int(v) for v in m.groups()[:4]) == tuple(round(v) for v in word.bbox())
            assert int(m.group(5)) == round(word.confidence * 100)
            assert span.text == word.text


# --------------------------------------------------------------------------------------------------
# searchable PDF


def _pdf_words_near_boxes(pdf_path: Path, result_pages: list[Page], dpi: float = 150.0) -> tuple[int, int]:
    """(found, total): words whose text is in the PDF's text layer inside their box (px -> pt, 2 pt slack)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf_path))
    found = total = 0
    k = 72.0 / dpi
    for i, page in enumerate(result_pages):
        pdf_page = doc[i]
        width_pt, height_pt = pdf_page.get_size()
        assert width_pt == pytest.approx(page.width * k, abs=0.01)
        assert height_pt == pytest.approx(page.height * k, abs=0.01)
        textpage = pdf_page.get_textpage()
        for w in page.words:
            x0, y0, x1, y1 = w.bbox()
            got = textpage.get_text_bounded(
                x0 * k - 2, height_pt - y1 * k - 2, x1 * k + 2, height_pt - y0 * k + 2
            )
            total += 1
            found += w.text.replace(" ", "") in got.replace(" ", "").replace("\r\n", "")
    return found, total


@pytest.mark.parametrize("name", ["dpi_150", "multi_page", "check_box"])
def test_pdf_text_layer_sits_on_the_words(fixtures_dir, tmp_path, name):
    import pypdfium2 as pdfium

    result = load(fixtures_dir, name)
    (out,) = exports.export(
        iter(result.pages),
        "pdf",
        tmp_path / "r.pdf",
        page_image=images_for(fixtures_dir, name, result),
        title=name,
    )
    assert_private_file(out)
    found, total = _pdf_words_near_boxes(out, result.pages)
    print(f"{name}: {found}/{total} words found inside their boxes, {out.stat().st_size} bytes")
    assert found == total
    # the layer reads back as the page's lines, word breaks included
    doc = pdfium.PdfDocument(str(out))
    for i, page in enumerate(result.pages):
        extracted = doc[i].get_textpage().get_text_range()
        squashed = re.sub(r"\s+", " ", extracted)
        for line in page.text.split(" \n"):
            assert line.strip() in squashed
    assert doc.get_metadata_dict()["Title"] == name
    import pikepdf

    with pikepdf.open(out) as pdf:  # qpdf finds nothing to repair: xref, objects and streams are sound
        check = getattr(pdf, "check_pdf_syntax", None) or pdf.check
        assert check() == []
        assert len(pdf.pages) == len(result.pages)


def test_pdf_keeps_the_page_image(fixtures_dir, tmp_path):
    import numpy as np
    import pypdfium2 as pdfium

    result = load(fixtures_dir, "dpi_150")
    original = Image.open(fixtures_dir / "dpi_150.jpg").convert("L")
    (out,) = exports.export(result.pages, "pdf", tmp_path / "r.pdf", page_image=lambda i: original)
    rendered = (
        pdfium.PdfDocument(str(out))[0].render(scale=150 / 72).to_pil().convert("L").resize(original.size)
    )
    diff = np.abs(np.asarray(rendered, dtype=np.int16) - np.asarray(original, dtype=np.int16))
    assert diff.mean() < 6  # the image, and no visible text drawn over it


def test_pdf_korean_and_other_scripts_extract(tmp_path):
    lines = [["안녕하세요", "세계"], ["타코야키", "만드는", "방법"], ["Grüße", "naïve", "東京", "😀"]]
    page = synthetic_page(lines, width=1000, height=400)
    (out,) = exports.export(
        [page], "pdf", tmp_path / "k.pdf", page_image=lambda i: Image.new("L", (1000, 400), 255)
    )
    import pypdfium2 as pdfium

    text = pdfium.PdfDocument(str(out))[0].get_textpage().get_text_range()
    got = [ln.split() for ln in text.replace("\r\n", "\n").split("\n")]
    assert got == lines
    found, total = _pdf_words_near_boxes(out, [page])
    assert found == total


def test_pdf_rotated_word_and_image_dpi(tmp_path):
    import math

    import pypdfium2 as pdfium

    cx, cy, w, h, angle = 400, 300, 300, 50, math.radians(30)
    c, s = math.cos(angle), math.sin(angle)
    # a box rotated 30 degrees counter-clockwise on screen (y down)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    pts = [(cx + x * c + y * s, cy - x * s + y * c) for x, y in corners]
    page = build_page(0, 800, 600, [RawWord(text="rotated", confidence=0.9, points=pts)], 0)
    image = Image.new("RGB", (800, 600), "white")
    image.info["dpi"] = (300, 300)
    (out,) = exports.export([page], "pdf", tmp_path / "r.pdf", page_image=lambda i: image)
    pdf_page = pdfium.PdfDocument(str(out))[0]
    assert pdf_page.get_size() == pytest.approx((800 * 72 / 300, 600 * 72 / 300), abs=0.01)
    textpage = pdf_page.get_textpage()
    assert textpage.get_text_range() == "rotated"
    # the middle character sits near the box centre
    left, bottom, right, top = textpage.get_charbox(3)
    k = 72 / 300
    assert ((left + right) / 2, (bottom + top) / 2) == pytest.approx((cx * k, (600 - cy) * k), abs=6)


def test_pdf_boxes_scale_to_a_larger_image(tmp_path):
    page = synthetic_page([["scaled", "words"]])
    big = Image.new("RGB", (1600, 600), "white")  # twice the page's pixel size
    (out,) = exports.export([page], "pdf", tmp_path / "r.pdf", page_image=lambda i: big, dpi=300)
    found, total = _pdf_words_near_boxes(out, [page], dpi=150)  # 800 px of boxes = 1600 px at 300 dpi
    assert found == total == 2


# --------------------------------------------------------------------------------------------------
# overlay


def test_render_overlay_colours_boxes_by_confidence():
    raw = [
        RawWord(text="sure", confidence=0.99, points=[(20, 20), (220, 20), (220, 80), (20, 80)], line=0),
        RawWord(text="unsure", confidence=0.3, points=[(300, 20), (500, 20), (500, 80), (300, 80)], line=0),
    ]
    page = build_page(0, 600, 120, raw, 0)
    image = Image.new("L", (1200, 240), 255)  # twice the size: boxes are scaled
    out = overlay.render_overlay(page, image)
    assert out.size == image.size and out.mode == "RGB"
    r, g, b = out.getpixel((240, 100))  # inside "sure"
    assert g > r + 40 and b < 220
    r, g, b = out.getpixel((800, 100))  # inside "unsure"
    assert r > g + 40
    assert out.getpixel((1150, 220)) == (255, 255, 255)  # outside every box: untouched


def test_overlay_export_single_and_multi_page(fixtures_dir, tmp_path):
    result = load(fixtures_dir, "multi_page")
    render = images_for(fixtures_dir, "multi_page", result)
    written = exports.export(result.pages, "overlay", tmp_path / "doc.overlay.png", page_image=render)
    assert [p.name for p in written] == [f"doc.overlay.page-{n}.png" for n in (1, 2, 3)]
    assert written == overlay.overlay_paths(tmp_path / "doc.overlay.png", 3)
    for path, page in zip(written, result.pages, strict=True):
        assert_private_file(path)
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (page.width, page.height)
    single = exports.export(result.pages[:1], "overlay", tmp_path / "one.png", page_image=render)
    assert single == [tmp_path / "one.png"]
    with Image.open(single[0]) as im:
        word = result.pages[0].words[0]
        x0, y0, _x1, y1 = word.bbox()
        edge = im.convert("RGB").getpixel((x0, (y0 + y1) // 2))
        assert edge != (255, 255, 255)


def test_overlay_of_rgba_fixture(fixtures_dir):
    result = load(fixtures_dir, "check_box")
    image = Image.open(fixtures_dir / "check_box.png")
    out = overlay.render_overlay(result.pages[0], image)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    assert Image.open(io.BytesIO(buf.getvalue())).size == image.size


def test_confidence_colours():
    assert overlay.confidence_color(1.0) == (0, 200, 0)
    assert overlay.confidence_color(0.75) == (230, 200, 0)
    assert overlay.confidence_color(0.2) == (230, 0, 0)


def test_streams_pages_one_at_a_time(tmp_path):
    """The writers pull pages lazily: a page is only produced when the previous one has been written."""
    produced: list[int] = []

    def gen():
        for i in range(3):
            produced.append(i)
            yield synthetic_page([[f"page{i}"]])

    seen: list[tuple[int, int]] = []

    def image(i: int) -> Image.Image:
        seen.append((i, len(produced)))
        img = Image.new("RGB", (800, 300), "white")
        ImageDraw.Draw(img).text((30, 40), f"page{i}", fill="black")
        return img

    exports.export(gen(), "pdf", tmp_path / "s.pdf", page_image=image)
    assert seen == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("fmt", ["txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay"])
def test_a_page_without_words(tmp_path, fmt):
    empty = build_page(0, 400, 200, [], 0)
    written = exports.export(
        [empty], fmt, tmp_path / f"e.{fmt}", page_image=lambda i: Image.new("RGB", (400, 200), "white")
    )
    assert len(written) == 1 and written[0].stat().st_size > 0


def test_text_lines_fall_back_to_boxes_when_the_text_does_not_describe_the_words():
    page = synthetic_page([["alpha", "beta"], ["gamma"]])
    assert [layout.line_text(ln) for ln in layout.text_lines(page)] == ["alpha beta", "gamma"]
    blank = page.model_copy(update={"text": ""})
    assert [layout.line_text(ln) for ln in layout.text_lines(blank)] == ["alpha beta", "gamma"]
    wrong = page.model_copy(update={"text": "something else entirely"})
    assert [layout.line_text(ln) for ln in layout.text_lines(wrong)] == ["alpha beta", "gamma"]
