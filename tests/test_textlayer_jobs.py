"""The `ocr` option end to end: text-layer pages skip OCR, scans and hidden OCR layers are OCR'd, page by page.

The local engine is the fast fake of tests/helpers.py: it logs every page it is asked to recognise
(UPSTAGE_OCR_FAKE_CALLS), so the tests see which pages went to OCR and which came from the text layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2.raw as raw
import pytest

from fake_upstage import DEFAULT_KEY, FakeUpstage
from helpers import FAKE_MODEL_VERSION, expected_text, fake_engine, page_image, private_tempdir
from textpdf import TextPdf
from upstage_ocr.cli import main
from upstage_ocr.errors import ConfigError
from upstage_ocr.inputs import office
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.settings import Settings

W, H = 400, 300  # points: the fake engine's page shape (its barcode is read at any scale)
LINES = ["Delivery note 77 for ACME Ltd.", "Ship to: 12 Harbour Road, Leith.", "Total due: 1,250.00 EUR"]


@pytest.fixture(autouse=True)
def _fast_local(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    with fake_engine():
        yield


def recognised(calls: Path) -> list[int]:
    """The pages the engine was asked to read (their barcode numbers; 0 for a page without one), sorted."""
    return sorted(0 if x == "None" else int(x) for x in calls.read_text().split())


def _text_page(pdf: TextPdf) -> None:
    pdf.new_page(W, H)
    for i, line in enumerate(LINES):
        pdf.text(line, 30, 250 - i * 24, 12)


def _scan_page(pdf: TextPdf, number: int, hidden_text: bool = False) -> None:
    pdf.new_page(W, H).image(page_image(number))
    if hidden_text:  # an earlier OCR's invisible words over the scan
        pdf.text(f"Page {number}", 10, 160, 12, mode=raw.FPDF_TEXTRENDERMODE_INVISIBLE)
        pdf.text("hello world", 10, 140, 12, mode=raw.FPDF_TEXTRENDERMODE_INVISIBLE)


def _mixed(path: Path) -> Path:
    """Page 1 born-digital, page 2 a scan, page 3 a scan with an invisible OCR layer, page 4 born-digital."""
    pdf = TextPdf()
    _text_page(pdf)
    _scan_page(pdf, 2)
    _scan_page(pdf, 3, hidden_text=True)
    _text_page(pdf)
    return pdf.save(path)


def _ocr(tmp_path: Path, src: Path, *extra: str) -> dict:
    out = tmp_path / f"{src.stem}-{'-'.join(extra) or 'default'}.json"
    assert main(["ocr", str(src), "--engine", "local", "-o", str(out), "--quiet", *extra]) == 0
    return json.loads(out.read_text())


def test_a_mixed_pdf_uses_each_path_page_by_page(tmp_path, calls):
    result = _ocr(tmp_path, _mixed(tmp_path / "mixed.pdf"))
    assert recognised(calls) == [2, 3]  # the scan and the scan with a hidden OCR layer; never pages 1 and 4
    sources = [m["source"] for m in result["metadata"]["pages"]]
    assert sources == ["text-layer", "ocr", "ocr", "text-layer"]
    assert result["modelVersion"] == f"{FAKE_MODEL_VERSION}+text-layer"
    pages = result["pages"]
    assert all("source" not in p for p in pages)  # the API's page shape is kept; the source is metadata
    assert [w["text"] for w in pages[0]["words"]] == " ".join(LINES).split()
    assert pages[0]["text"] == " \n".join(LINES) and pages[3]["text"] == pages[0]["text"]
    assert pages[0]["confidence"] == 1.0 and {w["confidence"] for w in pages[0]["words"]} == {1.0}
    assert pages[1]["text"] == expected_text(2) and pages[2]["text"] == expected_text(3)
    assert [(p["width"], p["height"]) for p in pages] == [(834, 625)] * 4  # the 150 DPI render's size
    ids = [w["id"] for p in pages for w in p["words"]]
    assert ids == list(range(len(ids)))  # word ids run on across text-layer and OCR pages


def test_a_long_mixed_pdf_keeps_its_page_order_through_batches_of_text_layer_pages(tmp_path, calls):
    """Text-layer pages are read and committed many at a time; scans among them still go to OCR, and the
    result keeps document order, sources and word ids."""
    scans = {7, 25, 40}
    pdf = TextPdf()
    for n in range(1, 41):
        _scan_page(pdf, n) if n in scans else _text_page(pdf)
    progress: list[tuple[int, int]] = []

    async def report(done: int, total: int, _message: str) -> None:
        progress.append((done, total))

    async def run() -> dict:
        settings = Settings.load(env={"UPSTAGE_OCR_HOME": str(tmp_path / "home")})
        async with OCRService(settings) as service:
            src = pdf.save(tmp_path / "long.pdf")
            sub = await service.submit(str(src), engine="local", output=str(tmp_path / "long.json"))
            job = await service.run(sub.job.id, report)
            assert job.status == "completed", job.error
            return json.loads(Path(job.result_path).read_text())

    import anyio

    result = anyio.run(run)
    assert recognised(calls) == sorted(scans)
    sources = [m["source"] for m in result["metadata"]["pages"]]
    assert sources == ["ocr" if n in scans else "text-layer" for n in range(1, 41)]
    pages = result["pages"]
    assert [p["id"] for p in pages] == list(range(40))
    assert all(pages[n - 1]["text"] == expected_text(n) for n in scans)
    assert all(pages[n - 1]["text"] == " \n".join(LINES) for n in range(1, 41) if n not in scans)
    ids = [w["id"] for p in pages for w in p["words"]]
    assert ids == list(range(len(ids)))
    done = [d for d, _t in progress]
    assert done == sorted(done) and done[-1] == 40 and {t for _d, t in progress} == {40}
    assert len(progress) < 40  # committed in batches, not one transaction a page


def test_ocr_force_ocrs_every_page_and_is_another_job(tmp_path, calls):
    src = _mixed(tmp_path / "mixed.pdf")
    auto = _ocr(tmp_path, src, "--ocr", "auto")
    forced = _ocr(tmp_path, src, "--ocr", "force")
    assert recognised(calls) == [0, 0, 2, 2, 3, 3]  # force OCR'd pages 1 and 4 too: no reuse of auto
    assert [m["source"] for m in forced["metadata"]["pages"]] == ["ocr"] * 4
    assert forced["modelVersion"] == FAKE_MODEL_VERSION
    assert auto["modelVersion"] != forced["modelVersion"]
    again = _ocr(tmp_path, src, "--ocr", "force")
    assert again == forced and len(recognised(calls)) == 6  # the same options: the finished job is reused


def test_a_born_digital_pdf_is_read_without_ocr(tmp_path, calls):
    pdf = TextPdf()
    for _ in range(3):
        _text_page(pdf)
    result = _ocr(tmp_path, pdf.save(tmp_path / "digital.pdf"))
    assert recognised(calls) == []
    assert [m["source"] for m in result["metadata"]["pages"]] == ["text-layer"] * 3


def test_a_scanned_pdf_is_ocrd(tmp_path, calls):
    pdf = TextPdf()
    for n in (1, 2):
        pdf.new_page(W, H).image(page_image(n)).text("scanned by X", 300, 10, 6)  # a digital stamp on a scan
    result = _ocr(tmp_path, pdf.save(tmp_path / "scan.pdf"))
    assert recognised(calls) == [1, 2]
    assert [m["source"] for m in result["metadata"]["pages"]] == ["ocr", "ocr"]
    assert result["modelVersion"] == FAKE_MODEL_VERSION


@pytest.mark.anyio
async def test_the_ocr_mode_is_part_of_a_local_jobs_identity(tmp_path):
    src = _mixed(tmp_path / "m.pdf")
    async with OCRService(Settings.load()) as service:
        auto = await service.submit(str(src), engine="local")
        auto_again = await service.submit(str(src), engine="local", ocr="auto")
        forced = await service.submit(str(src), engine="local", ocr="force")
        assert auto_again.job.id == auto.job.id and auto_again.reused
        assert forced.job.id != auto.job.id and not forced.reused
        assert auto.job.options["ocr"] == "auto" and forced.job.options["ocr"] == "force"
        with pytest.raises(ConfigError, match="unknown ocr mode"):
            await service.submit(str(src), engine="local", ocr="never")


@pytest.mark.anyio
async def test_the_upstage_engine_gets_every_page_whatever_the_ocr_mode(tmp_path, monkeypatch):
    """Upstage's OCR API (model=ocr) has no `ocr` field: nothing is sent for it and no page is held back."""
    src = _mixed(tmp_path / "m.pdf")
    fake = FakeUpstage()
    with fake.serve() as base_url:
        monkeypatch.setenv("UPSTAGE_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        async with OCRService(Settings.load()) as service:
            auto = await service.submit(str(src), engine="upstage", ocr="auto")
            forced = await service.submit(str(src), engine="upstage", ocr="force")
            assert forced.job.id == auto.job.id  # the same request to Upstage: the same job
            job = await service.run(auto.job.id)
            assert job.status == "completed", job.error
            result = service.result(job.id)
    (call,) = fake.calls_to("sync")
    assert "ocr" not in call.fields and call.fields["model"] == "ocr"
    assert len(result.pages) == 4
    assert all("source" not in m.model_dump() for m in result.metadata.pages)


@pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice is not installed")
def test_an_office_file_is_read_from_its_converted_text_layer(tmp_path, calls):
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    for line in LINES:
        doc.add_paragraph().add_run(line).font.size = Pt(14)
    doc.save(tmp_path / "note.docx")
    result = _ocr(tmp_path, tmp_path / "note.docx")
    assert recognised(calls) == []  # LibreOffice's PDF has a text layer: no OCR at all
    assert [m["source"] for m in result["metadata"]["pages"]] == ["text-layer"]
    assert [w["text"] for w in result["pages"][0]["words"]] == " ".join(LINES).split()


def test_a_scan_of_text_with_a_matching_visible_layer_under_it_is_ocrd(tmp_path, calls):
    pdf = TextPdf().new_page(W, H)
    pdf.text("Page 5", 10, 160, 12).text("hello world", 10, 140, 12)  # drawn first, then covered
    pdf.image(page_image(5))
    result = _ocr(tmp_path, pdf.save(tmp_path / "covered.pdf"))
    assert recognised(calls) == [5]
    assert [m["source"] for m in result["metadata"]["pages"]] == ["ocr"]
    assert result["pages"][0]["text"] == expected_text(5)
