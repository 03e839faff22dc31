"""OCRService, the engine room both front doors share: submit (no work), run, reuse, resume, failures."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from helpers import (
    FAKE_MODEL_VERSION,
    assert_upstage_json,
    expected_text,
    fake_engine,
    make_pdf,
    make_png,
    private_tempdir,
)
from upstage_ocr.errors import (
    AuthenticationError,
    ConfigError,
    FileMissingError,
    JobError,
    PageRangeError,
)
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.settings import Settings
from upstage_ocr.views import mean_confidence


@pytest.fixture(autouse=True)
def _fast_local(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "2")
    with fake_engine():
        yield


def recognised(calls: Path) -> list[int]:
    return [int(x) for x in calls.read_text().split()]


@pytest.fixture
def settings() -> Settings:
    return Settings.load()


@pytest.mark.anyio
async def test_submit_does_no_work_and_run_completes(settings, tmp_path, calls):
    doc = make_pdf(tmp_path / "a.pdf", 4)
    async with OCRService(settings) as service:
        sub = await service.submit(str(doc))
        assert sub.reused is False
        assert sub.job.status == "queued" and sub.job.engine == "local"
        assert sub.job.pages_total == 4 and sub.job.page_numbers == [1, 2, 3, 4]
        assert recognised(calls) == []
        assert service.unfinished_ids() == [sub.job.id]

        seen: list[tuple[int, int | None]] = []

        async def progress(done: int, total: int | None, _msg: str) -> None:
            seen.append((done, total))

        job = await service.run(sub.job.id, progress)
        assert job.status == "completed" and job.pages_done == 4
        assert job.lease_owner is None, "the lease is released when the work ends"
        assert seen[-1] == (4, 4)
        assert sorted(recognised(calls)) == [1, 2, 3, 4]
        assert service.unfinished_ids() == []

        data = assert_upstage_json(job.result_path, pages=4)  # type: ignore[arg-type]
        assert Path(job.result_path).parent == Path(tempfile_dir(tmp_path))  # type: ignore[arg-type]
        result = service.result(job.id)
        assert result.modelVersion == FAKE_MODEL_VERSION == data["modelVersion"]
        assert result.text == "".join(expected_text(n) for n in range(1, 5))
        assert mean_confidence(result) == pytest.approx(0.92)

        # running a finished job is a no-op
        assert (await service.run(job.id)).status == "completed"
        assert len(recognised(calls)) == 4


def tempfile_dir(tmp_path: Path) -> Path:
    return (tmp_path / "tmp").resolve()


@pytest.mark.anyio
async def test_reuse_rewrites_to_a_new_output_and_force_creates_a_new_job(settings, tmp_path, calls):
    doc = make_png(tmp_path / "p.png", 3)
    async with OCRService(settings) as service:
        first = await service.run((await service.submit(str(doc))).job.id)
        out = tmp_path / "elsewhere.json"
        again = await service.submit(str(doc), output=str(out))
        assert again.reused is True and again.job.id == first.id
        assert again.job.result_path == str(out)
        assert_upstage_json(out, pages=1)  # written from the stored pages, nothing recognised again
        assert recognised(calls) == [3]
        forced = await service.submit(str(doc), force=True)
        assert forced.reused is False and forced.job.id != first.id


@pytest.mark.anyio
async def test_unfinished_job_of_a_dead_process_resumes_from_its_first_missing_page(
    settings, tmp_path, calls
):
    doc = make_pdf(tmp_path / "r.pdf", 6)
    async with OCRService(settings) as service:
        job = (await service.submit(str(doc))).job
        # A previous process recognised pages 1-2 (and 4), then died holding the lease.
        from upstage_ocr.models import Page

        done = [
            (i, i + 1, Page(confidence=0.5, height=1, id=i, text=f"old{i + 1}", width=1)) for i in (0, 1, 3)
        ]
        service.store.add_pages(job.id, done)
        service.store.mark_running(job.id)
        dead = f"{socket.gethostname()}:{_dead_pid()}:x"
        service.store.update(job.id, lease_owner=dead, lease_until=time.time() + 600)
        assert service.unfinished_ids() == [job.id]

    async with OCRService(settings) as service:
        final = await service.run(job.id)
        assert final.status == "completed" and final.pages_done == 6
        assert sorted(recognised(calls)) == [3, 5, 6]
        texts = [p.text for _i, _n, p in service.iter_pages(job.id)]
        assert texts[:2] == ["old1", "old2"] and texts[3] == "old4"
        assert texts[2] == expected_text(3) and texts[5] == expected_text(6)


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


@pytest.mark.anyio
async def test_a_job_leased_by_a_live_process_is_waited_for_not_run(settings, tmp_path, calls):
    doc = make_pdf(tmp_path / "l.pdf", 2)
    async with OCRService(settings) as service:
        job = (await service.submit(str(doc))).job
        live = f"{socket.gethostname()}:{os.getppid()}:someone-else"
        service.store.update(job.id, lease_owner=live, lease_until=time.time() + 600, status="running")
        assert service.unfinished_ids() == []
        waited = await service.wait(job.id, timeout=0.3)
        assert waited.status == "running"
        assert recognised(calls) == []


@pytest.mark.anyio
async def test_engine_failure_fails_the_job_with_a_message_and_keeps_finished_pages(
    settings, tmp_path, monkeypatch, calls
):
    monkeypatch.setenv("UPSTAGE_OCR_FAKE_FAIL_PAGE", "3")
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "1")
    doc = make_pdf(tmp_path / "f.pdf", 4)
    async with OCRService(settings) as service:
        job = await service.run((await service.submit(str(doc))).job.id)
        assert job.status == "failed"
        assert job.error and "3" in job.error
        assert "Traceback" not in job.error and "ExceptionGroup" not in job.error
        assert job.error_code == "engine_error"
        assert job.lease_owner is None
        # a failed job is not reused: the same call creates a new job that keeps nothing of the old one
        monkeypatch.delenv("UPSTAGE_OCR_FAKE_FAIL_PAGE")
        retry = await service.submit(str(doc))
        assert retry.reused is False and retry.job.id != job.id
        assert (await service.run(retry.job.id)).status == "completed"


@pytest.mark.anyio
@pytest.mark.parametrize("spelling", ["absolute", "relative", "dotted", "symlink", "home"])
async def test_an_input_changed_after_submit_is_caught_whatever_the_spelling_of_its_path(
    settings, tmp_path, monkeypatch, calls, spelling
):
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = make_pdf(folder / "c.pdf", 2)
    (tmp_path / "link.pdf").symlink_to(doc)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    given = {
        "absolute": str(doc),
        "relative": "docs/c.pdf",
        "dotted": "./docs/../docs/c.pdf",
        "symlink": str(tmp_path / "link.pdf"),
        "home": "~/docs/c.pdf",
    }[spelling]
    async with OCRService(settings) as service:
        sub = await service.submit(given)
        make_pdf(doc, 3)  # the file is replaced before the job runs
        job = await service.run(sub.job.id)
    assert job.status == "failed" and job.error_code == "job_error"
    assert job.error is not None and "changed since the job was created" in job.error
    assert recognised(calls) == []


@pytest.mark.anyio
async def test_submit_errors(settings, tmp_path):
    async with OCRService(settings) as service:
        with pytest.raises(FileMissingError, match="file not found"):
            await service.submit(str(tmp_path / "missing.png"))
        with pytest.raises(AuthenticationError, match="UPSTAGE_API_KEY"):
            await service.submit(str(make_png(tmp_path / "a.png")), engine="upstage")
        with pytest.raises(ConfigError, match="unknown engine"):
            await service.submit(str(make_png(tmp_path / "b.png")), engine="nope")
        with pytest.raises(ConfigError, match="unknown schema"):
            await service.submit(str(make_png(tmp_path / "c.png")), schema="nope")
        with pytest.raises(PageRangeError):
            await service.submit(str(make_pdf(tmp_path / "d.pdf", 2)), pages="3")
        with pytest.raises(JobError, match="no job with id"):
            service.get("unknown")
        assert service.list_jobs() == []


@pytest.mark.anyio
async def test_engine_resolution(tmp_path):
    async with OCRService(Settings.load()) as service:
        assert service.resolve_engine(None) == "local"
        assert service.resolve_engine("local") == "local"
    async with OCRService(Settings.load(api_key="up_testkey_0123456789")) as service:
        assert service.resolve_engine(None) == "upstage"
        assert service.resolve_engine("local") == "local"
    async with OCRService(Settings.load(engine="local", api_key="up_testkey_0123456789")) as service:
        assert service.resolve_engine(None) == "local"


@pytest.mark.anyio
async def test_a_full_disk_fails_the_job_clearly_and_the_rerun_pays_only_for_the_rest(
    settings, tmp_path, monkeypatch, calls
):
    from upstage_ocr.jobs.store import JobStore

    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "1")
    limit: dict[str, int] = {}
    real_conn = JobStore._conn

    def conn_with_limit(self):
        conn = real_conn(self)
        if limit:  # the database may grow by a few pages only: then SQLite answers SQLITE_FULL
            conn.execute(f"PRAGMA max_page_count = {limit['pages']}")
        return conn

    monkeypatch.setattr(JobStore, "_conn", conn_with_limit)
    doc = make_pdf(tmp_path / "big.pdf", 30)
    async with OCRService(settings) as service:
        sub = await service.submit(str(doc))
        conn = service.store._conn()
        limit["pages"] = conn.execute("PRAGMA page_count").fetchone()[0] + 2
        job = await service.run(sub.job.id)
        assert job.status == "failed"
        assert job.error and "the disk is full" in job.error and "run the same command again" in job.error
        done = job.pages_done
        assert 0 < done < 30
        first_pass = recognised(calls)

        limit.clear()  # space freed
        service.store._conn().execute("PRAGMA max_page_count = 1073741823")
        retry = await service.submit(str(doc))
        final = await service.run(retry.job.id)
        assert final.status == "completed" and final.pages_done == 30
        # the pages stored before the disk filled were not recognised again
        assert len(recognised(calls)) - len(first_pass) == 30 - done
