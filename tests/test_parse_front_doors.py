"""Document Parse through the front doors: the MCP tools (in process) and the CLI (over real loopback HTTP),
against the fake Upstage API; exports of parse jobs; bad input as one-line errors."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from fake_upstage import DEFAULT_KEY, FakeUpstage
from helpers import fast_polling, make_pdf, private_tempdir
from upstage_ocr import cli
from upstage_ocr.mcp_server import build_server
from upstage_ocr.output.parse_exports import html_table_grid, markdown_table_grid
from upstage_ocr.settings import Settings


@pytest.fixture(autouse=True)
def _tmp(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    fast_polling(monkeypatch, 0.01)


@pytest.fixture
def tmp(tmp_path) -> Path:
    return (tmp_path / "tmp").resolve()


def server(fake: FakeUpstage, **overrides: Any):
    settings = Settings.load(api_key=DEFAULT_KEY, rate_limit=1000.0, **overrides)
    return build_server(settings, transport=fake.transport())


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def err(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error is True, result.structured_content
    text = str(result.content[0].text)  # type: ignore[union-attr]
    assert "\n" not in text and "Traceback" not in text
    return text


# -- MCP ------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_small_document_finishes_in_the_call_with_markdown(tmp_path, tmp) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "memo.pdf", 3)
    async with Client(server(fake)) as client:
        out = await ok(client, "parse_document", {"path": str(doc)})
        assert out["status"] == "completed" and out["engine"] == "upstage" and out["page_count"] == 3
        assert out["result_path"] == str(tmp / "memo.parse.json")
        assert out["markdown"].startswith("# Fake parse page 1\n\n")
        assert out["markdown"].count("| Item | Qty | Price |") == 3 and out["tables"] == 3
        data = json.loads(Path(out["result_path"]).read_text())
        assert data["api"] == "2.0" and data["usage"] == {"pages": 3}
        status = await ok(client, "get_ocr_status", {"job_id": out["job_id"]})
        assert status["kind"] == "parse" and status["status"] == "completed"
        jobs = await ok(client, "list_ocr_jobs", {})
        assert [(j["job_id"], j["kind"]) for j in jobs["jobs"]] == [(out["job_id"], "parse")]
        again = await ok(client, "parse_document", {"path": str(doc)})
        assert again["reused"] is True and again["markdown"] == out["markdown"]
        page = await ok(
            client, "fetch_parse_pages", {"job_id": out["job_id"], "pages": "2", "format": "text"}
        )
        assert page["pages"][0]["content"].startswith("Fake parse page 2\n")
        message = await err(client, "fetch_ocr_pages", {"job_id": out["job_id"]})
        assert "parse job" in message and "[job_error]" in message
    assert fake.sync_calls == 1


@pytest.mark.anyio
async def test_large_document_runs_in_the_background_and_reads_in_slices(tmp_path) -> None:
    fake = FakeUpstage(seconds_per_batch=0.05)
    doc = make_pdf(tmp_path / "book.pdf", 150)
    async with Client(server(fake)) as client:
        out = await ok(client, "parse_document", {"path": str(doc)})
        assert out["status"] in ("queued", "running") and out["markdown"] is None
        assert "fetch_parse_pages" in out["next_step"]
        deadline = time.monotonic() + 60
        while (st := await ok(client, "get_ocr_status", {"job_id": out["job_id"]}))["status"] != "completed":
            assert st["status"] != "failed" and time.monotonic() < deadline, st
            await anyio.sleep(0.02)
        first = await ok(client, "fetch_parse_pages", {"job_id": out["job_id"]})
        assert [p["page"] for p in first["pages"]] == list(range(1, 11)) and first["next_pages"] == "11-20"
        assert first["format"] == "markdown" and first["pages"][9]["content"].startswith(
            "# Fake parse page 10"
        )
        last = await ok(
            client,
            "fetch_parse_pages",
            {"job_id": out["job_id"], "pages": "141-150", "include_elements": True},
        )
        assert last["next_pages"] is None and last["pages"][-1]["source_page"] == 150
        cats = [e["category"] for e in last["pages"][-1]["elements"]]
        assert cats == ["heading1", "paragraph", "table", "chart", "footer"]  # page 150: a chart page
        box = last["pages"][-1]["elements"][2]["coordinates"]
        assert len(box) == 4 and all(0 <= v <= 1 for xy in box for v in xy)
    assert fake.submits == 1 and fake.sync_calls == 0


@pytest.mark.anyio
async def test_exports_of_a_parse_job(tmp_path, tmp) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "sheet.pdf", 2)
    async with Client(server(fake)) as client:
        job = (await ok(client, "parse_document", {"path": str(doc)}))["job_id"]
        md = await ok(client, "export_ocr", {"job_id": job, "format": "md"})
        page = await ok(client, "export_ocr", {"job_id": job, "format": "html"})
        tables = await ok(client, "export_ocr", {"job_id": job, "format": "csv"})
        message = await err(client, "export_ocr", {"job_id": job, "format": "docx"})
        ocr_job = (await ok(client, "ocr_document", {"path": str(doc)}))["job_id"]
        refused = await err(client, "export_ocr", {"job_id": ocr_job, "format": "html"})
    assert md["paths"] == [str(tmp / "sheet.md")]
    assert Path(md["paths"][0]).read_text().startswith("# Fake parse page 1\n\n")
    html_text = Path(page["paths"][0]).read_text()
    assert html_text.startswith("<!DOCTYPE html>") and "<table id='2'" in html_text
    assert [Path(p).name for p in tables["paths"]] == ["sheet.page1.table1.csv", "sheet.page2.table2.csv"]
    rows = list(csv.reader(io.StringIO(Path(tables["paths"][1]).read_text())))
    assert rows[0] == ["Item", "Qty", "Price"] and rows[1][:2] == ["Widget 2", "3"]
    assert "parse job exports as md, html, csv, json" in message and "[config_error]" in message
    assert "html export is for parse jobs" in refused


@pytest.mark.anyio
async def test_bad_input_is_one_line(tmp_path) -> None:
    async with Client(server(FakeUpstage())) as client:
        missing = await err(client, "parse_document", {"path": str(tmp_path / "nope.pdf")})
        pages = await err(
            client, "parse_document", {"path": str(make_pdf(tmp_path / "a.pdf", 2)), "pages": "5"}
        )
        unknown = await err(client, "fetch_parse_pages", {"job_id": "nosuchjob"})
    assert "[file_missing]" in missing and "[bad_page_range]" in pages and "[job_error]" in unknown


# -- CLI (real HTTP) ------------------------------------------------------------------------------------------


def run(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, errs = capsys.readouterr()
    return code, out, errs


def test_cli_parse_prints_the_path_or_the_content(tmp_path, tmp, capsys, monkeypatch) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "report.pdf", 3)
    with fake.serve() as base_url:
        monkeypatch.setenv("UPSTAGE_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        code, out, _ = run(capsys, "parse", str(doc), "--quiet")
        assert code == 0 and out == f"{tmp / 'report.parse.json'}\n"
        assert json.loads(Path(out.strip()).read_text())["usage"] == {"pages": 3}
        code, out, _ = run(capsys, "parse", str(doc), "--format", "markdown", "--quiet")
        assert code == 0
        assert out.startswith("# Fake parse page 1\n\nDocument ") and "| Item | Qty | Price |" in out
        target = tmp_path / "report.html"
        code, out, _ = run(capsys, "parse", str(doc), "--format", "html", "-o", str(target), "--quiet")
        assert code == 0 and out == f"{target}\n" and target.read_text().startswith("<h1 id='0'")
        code, out, _ = run(capsys, "jobs")
        assert " parse " in out
        job_id = out.split()[0]
        code, out, _ = run(capsys, "fetch", job_id, "--pages", "2-3")
        assert code == 0 and out.startswith("--- page 2 ---\n# Fake parse page 2\n\nDocument ")
        assert "--- page 3 ---\n# Fake parse page 3\n" in out and "page 1 ---" not in out
        code, out, _ = run(capsys, "fetch", job_id, "--json")
        pages = json.loads(out)
        assert [p["source_page"] for p in pages] == [1, 2, 3] and pages[0]["elements"][0][
            "category"
        ] == "heading1"
        code, _, errs = run(capsys, "parse", str(doc), "--output-formats", "html,pdf")
        assert code == 6 and errs.count("\n") == 1 and "unknown output format 'pdf'" in errs
        code, _, errs = run(capsys, "parse", str(tmp_path / "missing.pdf"))
        assert code == 2 and errs.count("\n") == 1
    assert fake.sync_calls == 1  # three parses of one file with the same options: one API call


# -- table reading ----------------------------------------------------------------------------------------------


def test_html_tables_with_spans_and_markdown_tables() -> None:
    html = (
        "<table id='4'><tr><th rowspan='2'>Name</th><th colspan='2'>Score</th></tr>"
        "<tr><td>A</td><td>B</td></tr><tr><td>Kim &amp; Lee</td><td>1<br>2</td><td></td></tr></table>"
    )
    assert html_table_grid(html) == [["Name", "Score", ""], ["", "A", "B"], ["Kim & Lee", "1 2", ""]]
    md = "| a | b |\n| --- | :---: |\n| 1 \\| 2 | 3 |"
    assert markdown_table_grid(md) == [["a", "b"], ["1 | 2", "3"]]


# -- a killed server resumes the parse by its request id ------------------------------------------------------


def test_parse_job_survives_sigkill_of_the_server(tmp_path) -> None:
    from helpers import StdioServer, downloaded_batches, fake_engine_env
    from upstage_ocr.jobs.store import JobStore

    fake = FakeUpstage(seconds_per_batch=0.2)
    doc = make_pdf(tmp_path / "long.pdf", 250)
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = fake_engine_env(tmp_path / "site")
    env.update(UPSTAGE_OCR_HOME=str(tmp_path / "home"), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")

    def until(srv: StdioServer, job_id: str, done: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while not done(st := srv.call("get_ocr_status", {"job_id": job_id})):
            assert st["status"] != "failed" and time.monotonic() < deadline, st
            time.sleep(0.05)
        return st

    with fake.serve() as base_url:
        env.update(UPSTAGE_API_KEY=DEFAULT_KEY, UPSTAGE_BASE_URL=base_url, UPSTAGE_OCR_RATE_LIMIT="200")
        first = StdioServer(env, cwd=tmp_path, log=tmp_path / "server1.log")
        try:
            out = first.call("parse_document", {"path": str(doc)})
            job_id = out["job_id"]
            until(first, job_id, lambda st: st["pages_done"] >= 20)
        finally:
            first.kill()
        job = JobStore(tmp_path / "home").get(job_id)
        assert job.status == "running" and 20 <= job.pages_done < 250 and job.request_id
        stored = {b["batch_id"] for b in job.batches if b["status"] == "stored"}
        with StdioServer(env, cwd=tmp_path, log=tmp_path / "server2.log") as second:
            done = until(second, job_id, lambda st: st["status"] == "completed")
            assert done["kind"] == "parse" and done["pages_done"] == 250
            tail = second.call("fetch_parse_pages", {"job_id": job_id, "pages": "241-250"})
            assert [p["source_page"] for p in tail["pages"]] == list(range(241, 251))
            data = json.loads(Path(done["result_path"]).read_text())
            assert data["usage"] == {"pages": 250}
            assert [e["id"] for e in data["elements"]] == list(range(len(data["elements"])))
            headings = [e["content"]["markdown"] for e in data["elements"] if e["category"] == "heading1"]
            assert headings == [f"# Fake parse page {n}" for n in range(1, 251)]
    assert fake.submits == 1, "the restarted server follows the stored request id; it never submits again"
    assert fake.sync_calls == 0
    batches = downloaded_batches(fake)
    assert sorted(set(batches)) == list(range(25))
    again = [b for b in set(batches) if batches.count(b) > 1]
    # at most the batch whose download the kill cut short is fetched again; a stored batch never is
    assert len(again) <= 1 and not set(again) & stored, (again, stored)
