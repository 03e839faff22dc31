"""Parse jobs on the Upstage backend: the same durable jobs as OCR, against the fake API (in-process)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import fake_parse
from fake_upstage import DEFAULT_KEY, FakeUpstage
from helpers import downloaded_batches, fast_polling, make_pdf, private_tempdir
from upstage_ocr.errors import FileTooLargeError, JobError, PageRangeError, ServerError
from upstage_ocr.jobs.parse_service import DEFAULT_FORMATS, iter_parsed_pages, parse_result, submit_parse
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.parse_models import ParseResult
from upstage_ocr.settings import Settings
from upstage_ocr.upstage.parse import ParseOptions

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _fast(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    fast_polling(monkeypatch, 0.01)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": DEFAULT_KEY, "rate_limit": 1000.0, "max_retries": 4}
    values.update(overrides)
    return Settings.load(**values)


def oracle(path: Path, numbers: list[int], formats: tuple[str, ...] = DEFAULT_FORMATS) -> dict[str, Any]:
    """The fake's parse of `numbers` as one piece, element pages as the document's."""
    opts = ParseOptions(output_formats=formats)
    req = fake_parse.ParseRequest.from_fields(
        opts.form_fields(), hashlib.sha256(path.read_bytes()).hexdigest()
    )
    return fake_parse.envelope(req, numbers, fake_parse.DEFAULT_VERSION)


async def test_small_parse_is_one_sync_call_written_as_it_came_and_never_paid_twice(tmp_path) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "memo.pdf", 3)
    async with OCRService(settings(), transport=fake.transport()) as service:
        sub = await submit_parse(service, str(doc))
        assert sub.job.status == "queued" and fake.api_calls == 0  # submit does no work
        job = await service.run(sub.job.id)
        assert job.status == "completed" and job.pages_done == 3 and job.billed_pages == 3
        assert job.result_path and job.result_path.endswith("memo.parse.json")
        written = json.loads(Path(job.result_path).read_text())
        call = fake.calls_to("sync")[0]
        assert call.fields["model"] == "document-parse"
        assert json.loads(call.fields["output_formats"]) == ["html", "markdown", "text"]
        assert written == oracle(doc, [1, 2, 3])  # the API's response, as it came
        assert (
            parse_result(service, job.id).to_json_dict() == ParseResult.model_validate(written).to_json_dict()
        )
        again = await submit_parse(service, str(doc))
        assert again.reused and again.job.id == job.id and again.job.status == "completed"
        ocr = await service.submit(str(doc))  # the OCR job of the same file is another job
        assert ocr.job.id != job.id and not ocr.reused
        other = await submit_parse(service, str(doc), options=ParseOptions(output_formats=("markdown",)))
        assert other.job.id != job.id  # other options: another job
    assert fake.sync_calls == 1 and fake.submits == 0


async def test_page_selection_uploads_a_subset_and_keeps_document_page_numbers(tmp_path) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "long.pdf", 8)
    async with OCRService(settings(), transport=fake.transport()) as service:
        sub = await submit_parse(service, str(doc), pages="2,5-6")
        job = await service.run(sub.job.id)
        rows = list(iter_parsed_pages(service, job.id, "2-3"))
    assert job.status == "completed" and job.pages_total == 3
    assert [(idx, number) for idx, number, _ in rows] == [(1, 5), (2, 6)]
    assert all(e.page == 5 for e in rows[0][2]) and rows[0][2][0].content.text == "Fake parse page 2"
    written = json.loads(Path(job.result_path or "").read_text())
    assert sorted({e["page"] for e in written["elements"]}) == [2, 5, 6]
    assert [e["id"] for e in written["elements"]] == list(range(len(written["elements"])))
    assert fake.calls_to("sync")[0].files["document"].data != doc.read_bytes()


async def test_250_pages_go_async_and_join_in_order(tmp_path) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "book.pdf", 250)
    fake.fail_next(1, 429, endpoint="status")
    fake.fail_next(1, 503, endpoint="download")
    seen: list[int] = []

    async def progress(done: int, total: int | None, _msg: str) -> None:
        seen.append(done)

    async with OCRService(settings(), transport=fake.transport()) as service:
        sub = await submit_parse(service, str(doc))
        job = await service.run(sub.job.id, progress)
        result = parse_result(service, job.id)
    assert job.status == "completed" and job.pages_done == 250 and job.billed_pages == 250
    assert fake.submits == 1 and fake.sync_calls == 0
    assert sorted(downloaded_batches(fake)) == [0, *range(25)]  # batch 0 once more after its 503
    assert seen == sorted(seen) and seen[-1] == 250
    expected = ParseResult.model_validate(oracle(doc, list(range(1, 251))))
    got, want = result.to_json_dict(), expected.to_json_dict()
    diff = [(a, b) for a, b in zip(got["elements"], want["elements"], strict=True) if a != b]
    assert not diff, diff[:1]
    assert got == want
    assert json.loads(Path(job.result_path or "").read_text()) == expected.to_json_dict()


async def test_failed_batch_is_rerun_alone_with_a_sync_call(tmp_path) -> None:
    fake = FakeUpstage(failed_batches={1})
    doc = make_pdf(tmp_path / "book.pdf", 130)
    async with OCRService(settings(), transport=fake.transport()) as service:
        job = await service.run((await submit_parse(service, str(doc))).job.id)
        result = parse_result(service, job.id)
    assert job.status == "completed" and fake.submits == 1 and fake.sync_calls == 1
    resent = fake.calls_to("sync")[0]
    assert resent.fields["model"] == "document-parse"
    assert job.billed_pages == 130  # batches 0, 2.. (120 pages) + the 10 pages re-run
    assert [e.id for e in result.elements] == list(range(len(result.elements)))
    headings = {e.page: e.content.text for e in result.elements if e.category == "heading1"}
    assert sorted(headings) == list(range(1, 131))
    # The fake names a page by its place in the file it was sent: pages 11-20 went alone, as pages 1-10.
    assert [headings[n] for n in range(11, 21)] == [f"Fake parse page {k}" for k in range(1, 11)]
    assert all(headings[n] == f"Fake parse page {n}" for n in [*range(1, 11), *range(21, 131)])


async def test_a_failed_run_resumes_by_its_request_id_and_pays_nothing_twice(tmp_path) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "book.pdf", 120)
    async with OCRService(settings(), transport=fake.transport()) as service:
        sub = await submit_parse(service, str(doc))

        async def break_after_two_batches(done: int, _total: int | None, _msg: str) -> None:
            if done == 20:  # every attempt of the next download fails: the run gives up
                fake.fail_next(4, 500, endpoint="download")

        first = await service.run(sub.job.id, break_after_two_batches)
    assert first.status == "failed" and first.request_id is not None and first.error_code == "server_error"
    stored = first.pages_done
    assert stored == 20
    async with OCRService(settings(), transport=fake.transport()) as service:  # a new process
        again = await submit_parse(service, str(doc))
        assert not again.reused and again.job.request_id == first.request_id  # the failed job's work adopted
        assert again.job.pages_done == stored
        job = await service.run(again.job.id)
        result = parse_result(service, job.id)
    assert job.status == "completed" and fake.submits == 1 and fake.sync_calls == 0
    ok = [fake._tokens[c.path.rsplit("/", 1)[-1]][1] for c in fake.calls_to("download") if c.status == 200]
    assert sorted(ok) == list(range(12)), "every batch was downloaded exactly once"
    assert downloaded_batches(fake).count(2) == 5  # the 4 failed attempts of the first run, then once
    expected = ParseResult.model_validate(oracle(doc, list(range(1, 121))))
    assert result.to_json_dict() == expected.to_json_dict()


async def test_limits_and_bad_input_are_one_line_errors(tmp_path) -> None:
    doc = make_pdf(tmp_path / "a.pdf", 12)
    async with OCRService(settings(parse_async_max_pages=10), transport=FakeUpstage().transport()) as svc:
        with pytest.raises(FileTooLargeError, match=r"12 pages; .* at most 10") as big:
            await submit_parse(svc, str(doc))
        with pytest.raises(PageRangeError):
            await submit_parse(svc, str(doc), pages="13")
        sub = await submit_parse(svc, str(doc), pages="1-3")
        with pytest.raises(JobError, match="parse job, not an OCR job"):
            list(svc.iter_pages(sub.job.id))
        ocr = await svc.submit(str(doc), engine="upstage", pages="1")
        with pytest.raises(JobError, match="OCR job, not a parse job"):
            parse_result(svc, ocr.job.id)
    assert "\n" not in str(big.value)


async def test_an_answer_of_another_shape_fails_the_job_cleanly(tmp_path) -> None:
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "a.pdf", 2)
    fake.fail_next(1, 200, endpoint="sync", body={"api": "2.0", "elements": "nope"})
    async with OCRService(settings(), transport=fake.transport()) as service:
        job = await service.run((await submit_parse(service, str(doc))).job.id)
    assert job.status == "failed" and job.error_code == ServerError("x").code
    assert "elements" in (job.error or "")
