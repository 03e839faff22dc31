"""Office files on the local engine go through LibreOffice headless (skipped where it is not installed)."""

from __future__ import annotations

import json

import pytest

from upstage_ocr.cli import main
from upstage_ocr.inputs import office

pytestmark = pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice is not installed")


def _docx(path, lines):
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    for line in lines:
        run = doc.add_paragraph().add_run(line)
        run.font.size = Pt(20)
    doc.save(path)
    return path


def test_docx_is_converted_and_read_by_the_local_engine(tmp_path, capsys):
    src = _docx(tmp_path / "memo.docx", ["Quarterly memo", "Invoice number 4821"])
    out = tmp_path / "memo.ocr.json"
    code = main(["ocr", str(src), "--engine", "local", "-o", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    text = result["text"].lower()
    assert "quarterly memo" in text and "4821" in text
    assert result["numBilledPages"] == 0 and len(result["pages"]) == 1


def test_two_office_files_do_not_share_a_conversion(tmp_path, capsys):
    a = _docx(tmp_path / "a.docx", ["Alpha document"])
    b = _docx(tmp_path / "b.docx", ["Bravo document"])
    assert main(["ocr", str(a), str(b), "--engine", "local", "-o", str(tmp_path), "--quiet"]) == 0
    assert "alpha" in json.loads((tmp_path / "a.ocr.json").read_text())["text"].lower()
    assert "bravo" in json.loads((tmp_path / "b.ocr.json").read_text())["text"].lower()
