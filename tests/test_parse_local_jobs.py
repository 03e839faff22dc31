"""Parse jobs on the local engine: the local OCR path's words through the local parse engine, page by page in
the job store (resume, page order), and a rendered page with a heading, a list and a ruled table end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import fake_engine, make_pdf, private_tempdir
from upstage_ocr.errors import JobError
from upstage_ocr.jobs.parse_service import iter_parsed_pages, parse_result, submit_parse
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.settings import Settings
from upstage_ocr.upstage.parse import ParseOptions

pytest.importorskip("upstage_ocr.parsing", reason="the local parse engine (branch parse-local) is not merged")

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _tmp(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "2")


async def test_local_parse_job_commits_pages_in_order_and_resumes(tmp_path, calls) -> None:
    doc = make_pdf(tmp_path / "six.pdf", 6)
    with fake_engine():
        async with OCRService(Settings.load()) as service:
            sub = await submit_parse(service, str(doc), engine="local")
            assert sub.job.engine == "local" and sub.job.options["kind"] == "parse"

            # Pages finished together are committed (and reported) together, so the count can step over 3.
            async def stop_after_three(done: int, _total: int | None, _msg: str) -> None:
                if done >= 3:
                    raise JobError("stopped on purpose")

            first = await service.run(sub.job.id, stop_after_three)
            kept = first.pages_done
            assert first.status == "failed" and 3 <= kept < 6
            seen = [int(x) for x in calls.read_text().split()]
            again = await submit_parse(service, str(doc), engine="local")
            assert again.job.pages_done == kept  # the failed job's pages were adopted
            job = await service.run(again.job.id)
            result = parse_result(service, job.id)
            rows = list(iter_parsed_pages(service, job.id, "5-6"))
    after = [int(x) for x in calls.read_text().split()][len(seen) :]
    assert sorted(after) == list(range(kept + 1, 7)), "pages parsed before were OCRed again"
    assert job.status == "completed" and job.model_version and job.model_version.startswith("local-parse")
    assert [(idx, n) for idx, n, _ in rows] == [(4, 5), (5, 6)]
    for number in range(1, 7):
        mine = [e for e in result.elements if e.page == number]
        assert mine, f"page {number} has no elements"
        text = " ".join(e.content.text for e in mine)
        assert f"Page {number}" in text and "hello world" in text
    assert [e.id for e in result.elements] == list(range(len(result.elements)))
    written = json.loads(Path(job.result_path or "").read_text())
    assert written["usage"] == {"pages": 6} and written["model"] == job.model_version


def md_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and not all(set(c) <= {"-", ":"} for c in cells):
            rows.append(cells)
    return rows


@pytest.mark.slow
async def test_rendered_report_through_the_real_local_engine(tmp_path) -> None:
    parse_pages = pytest.importorskip("parse_pages")
    page = parse_pages.report_page()
    doc = tmp_path / "report.pdf"
    page.image.save(doc, format="PDF", resolution=150.0)
    options = ParseOptions(output_formats=("markdown", "html"))
    async with OCRService(Settings.load()) as service:
        job = await service.run(
            (await submit_parse(service, str(doc), engine="local", options=options)).job.id
        )
        result = parse_result(service, job.id)
    assert job.status == "completed", job.error
    categories = [e.category for e in result.elements]
    assert categories == [e.category for e in page.expected]
    tables = [md_rows(e.content.markdown) for e in result.elements if e.category == "table"]
    assert tables == page.tables
    assert all(e.content.text == "" for e in result.elements)  # text was not asked for


def _born_digital(path: Path) -> Path:
    """Page 1: a heading and a paragraph as real PDF text; page 2: a scan (an image, no text layer)."""
    from helpers import page_image
    from textpdf import TextPdf

    pdf = TextPdf().new_page(400, 300)
    pdf.text("Quarterly Summary", 30, 250, 20)
    pdf.text("Sales grew by twelve percent this quarter.", 30, 200, 11)
    pdf.text("The Leith store opened on time in May.", 30, 186, 11)
    pdf.new_page(400, 300).image(page_image(2))
    return pdf.save(path)


@pytest.mark.parametrize("mode", ["auto", "force"])
async def test_local_parse_reads_a_trusted_text_layer_without_ocr(tmp_path, calls, mode) -> None:
    doc = _born_digital(tmp_path / "born.pdf")
    with fake_engine():
        async with OCRService(Settings.load()) as service:
            options = ParseOptions(output_formats=("markdown", "text"), ocr=mode)
            job = await service.run(
                (await submit_parse(service, str(doc), engine="local", options=options)).job.id
            )
            result = parse_result(service, job.id)
    assert job.status == "completed", job.error
    read = sorted(0 if x == "None" else int(x) for x in calls.read_text().split())
    first = " ".join(e.content.text for e in result.elements if e.page == 1)
    if mode == "auto":
        assert read == [2], "the born-digital page went to OCR, or the scan did not"
        assert "Quarterly Summary" in first and "Sales grew by twelve percent this quarter." in first
        assert result.elements[0].category == "heading1" and result.elements[0].page == 1
    else:
        assert read == [0, 2]  # every page OCR'd: the text page has no barcode for the fake engine
    assert any(e.page == 2 and "Page 2" in e.content.text for e in result.elements)
