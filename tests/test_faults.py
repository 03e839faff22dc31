"""Faults: the Upstage API misbehaves, the disk fills up, the process dies, two processes share one store.

Each test: the job completes (or fails cleanly and a rerun completes), 0 pages lost, 0 pages paid twice (counted
from what the fake Upstage API actually served: pages of successful sync uploads + pages of downloaded batches).

Covered elsewhere, referenced in docs/RELIABILITY.md: the MCP server SIGKILLed during an async Upstage job and
restarted (tests/test_restart.py::test_upstage_async_job_survives_sigkill), and during a local job
(tests/test_restart.py::test_local_job_resumes_from_its_first_unfinished_page).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from fake_upstage import DEFAULT_KEY, FakeClock, FakeUpstage, page_sizes
from helpers import (
    assert_upstage_json,
    expected_text,
    fake_engine,
    fake_engine_env,
    fast_polling,
    make_pdf,
    make_png,
    private_tempdir,
)
from upstage_ocr.cli import main
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.jobs.store import JobStore
from upstage_ocr.settings import Settings
from upstage_ocr.upstage import client as client_mod


@pytest.fixture(autouse=True)
def _fast(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "1")
    fast_polling(monkeypatch)
    # Retries back off for at most 10 ms (the policy itself is tested in test_upstage_client.py).
    monkeypatch.setattr(client_mod, "BACKOFF_BASE", 0.005)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP", 0.01)
    with fake_engine():
        yield


def recognised(calls: Path) -> list[int]:
    return [int(x) for x in calls.read_text().split()]


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": DEFAULT_KEY, "rate_limit": 1000.0, "max_retries": 5}
    values.update(overrides)
    return Settings.load(**values)


def paid_pages(fake: FakeUpstage) -> int:
    """Pages the fake would bill: successful sync uploads + successfully downloaded async batches."""
    total = 0
    for call in fake.calls:
        if call.status != 200:
            continue
        if call.endpoint == "sync":
            total += len(page_sizes(call.files["document"].data))
        elif call.endpoint == "download":
            request_id, index, _expires = fake._tokens[call.path.rsplit("/", 1)[-1]]
            start, end = fake._jobs[request_id].batches[index]
            total += end - start + 1
    return total


def ok_calls(fake: FakeUpstage, endpoint: str) -> int:
    return sum(1 for c in fake.calls_to(endpoint) if c.status == 200)


async def ocr(service: OCRService, doc: Path, **kw: Any) -> Any:
    return await service.run((await service.submit(str(doc), **kw)).job.id)


def assert_all_pages(job: Any, store: JobStore, pages: int) -> None:
    """Completed, every page there once, in document order, and the result file says so."""
    assert job.status == "completed", job.error
    assert job.pages_done == job.pages_total == pages
    rows = list(store.iter_pages(job.id))
    assert [idx for idx, _n, _p in rows] == list(range(pages))
    assert [n for _i, n, _p in rows] == list(range(1, pages + 1))
    assert_upstage_json(job.result_path, pages=pages)


# -- the Upstage API misbehaves -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_429_bursts_without_and_with_retry_after(tmp_path):
    fake = FakeUpstage()
    async with OCRService(settings(), transport=fake.transport()) as service:
        fake.fail_next(3, 429, endpoint="sync")  # no Retry-After: backoff
        job = await ocr(service, make_pdf(tmp_path / "a.pdf", 4))
        assert_all_pages(job, service.store, 4)

        fake.fail_next(2, 429, endpoint="sync", retry_after="0.3")  # Retry-After honoured
        started = time.monotonic()
        job = await ocr(service, make_pdf(tmp_path / "b.pdf", 3))
        assert time.monotonic() - started >= 0.6
        assert_all_pages(job, service.store, 3)

        # an async job: 429s on submit (a definite refusal: safe to retry), on polls and on downloads
        fake.fail_next(2, 429, endpoint="submit")
        fake.fail_next(3, 429, endpoint="status", retry_after="0")
        fake.fail_next(2, 429, endpoint="download")
        job = await ocr(service, make_pdf(tmp_path / "long.pdf", 105))
        assert_all_pages(job, service.store, 105)
    assert fake.rate_limited == 12
    assert ok_calls(fake, "submit") == 1
    assert paid_pages(fake) == 4 + 3 + 105, "a page was paid twice"


@pytest.mark.anyio
async def test_server_side_rate_limit_under_concurrency(tmp_path):
    """The fake's own limiter (3 calls/s, Retry-After 1) against 8 concurrent jobs: all finish, none paid twice."""
    fake = FakeUpstage(rps_limit=3, retry_after=1)
    docs = [make_png(tmp_path / f"p{i}.png", i + 1) for i in range(8)]
    async with OCRService(settings(max_retries=8), transport=fake.transport()) as service:
        jobs: list[Any] = []

        async def one(doc: Path) -> None:
            jobs.append(await ocr(service, doc))

        async with anyio.create_task_group() as tg:
            for doc in docs:
                tg.start_soon(one, doc)
    assert [j.status for j in jobs] == ["completed"] * 8, [j.error for j in jobs]
    assert fake.rate_limited > 0
    assert paid_pages(fake) == 8 and ok_calls(fake, "sync") == 8


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_retried_everywhere(status, tmp_path):
    fake = FakeUpstage()
    async with OCRService(settings(), transport=fake.transport()) as service:
        fake.fail_next(2, status, endpoint="sync")
        job = await ocr(service, make_pdf(tmp_path / "s.pdf", 5))
        assert_all_pages(job, service.store, 5)

        fake.fail_next(1, status, endpoint="submit")
        fake.fail_next(2, status, endpoint="status")
        fake.fail_next(2, status, endpoint="download")
        job = await ocr(service, make_pdf(tmp_path / "l.pdf", 101))
        assert_all_pages(job, service.store, 101)
    assert ok_calls(fake, "submit") == 1
    assert paid_pages(fake) == 106


@pytest.mark.anyio
async def test_5xx_that_never_ends_fails_cleanly_and_a_rerun_completes(tmp_path):
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "s.pdf", 3)
    async with OCRService(settings(max_retries=3), transport=fake.transport()) as service:
        fake.fail_next(3, 503, endpoint="sync")
        job = await ocr(service, doc)
        assert job.status == "failed" and job.error_code == "server_error"
        assert "status=503" in (job.error or "") and "after 3 attempts" in (job.error or "")
        assert job.pages_done == 0 and job.lease_owner is None
        assert not Path(job.result_path).exists()
        again = await ocr(service, doc)
        assert_all_pages(again, service.store, 3)
    assert paid_pages(fake) == 3


@pytest.mark.anyio
async def test_connection_resets(tmp_path):
    fake = FakeUpstage()
    async with OCRService(settings(), transport=fake.transport()) as service:
        fake.fail_next(2, "reset", endpoint="sync")  # idempotent: retried
        job = await ocr(service, make_pdf(tmp_path / "s.pdf", 2))
        assert_all_pages(job, service.store, 2)

        fake.fail_next(2, "reset", endpoint="status")
        fake.fail_next(1, "reset", endpoint="download")
        job = await ocr(service, make_pdf(tmp_path / "l.pdf", 120))
        assert_all_pages(job, service.store, 120)

        # A reset on the async submit may have created a (billed) request: never retried blindly. The job
        # fails and says so; this fake never got the upload, so the rerun submits once and completes.
        fake.fail_next(1, "reset", endpoint="submit")
        doc = make_pdf(tmp_path / "m.pdf", 110)
        job = await ocr(service, doc)
        assert job.status == "failed" and job.error_code == "network_error"
        assert "may have reached Upstage" in (job.error or "")
        job = await ocr(service, doc)
        assert_all_pages(job, service.store, 110)
    assert ok_calls(fake, "submit") == 2
    assert paid_pages(fake) == 2 + 120 + 110


@pytest.mark.anyio
async def test_read_timeouts_on_sync_calls(tmp_path):
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "t.pdf", 3)
    async with OCRService(settings(max_retries=3), transport=fake.transport()) as service:
        fake.fail_next(2, "timeout", endpoint="sync")
        job = await ocr(service, doc)
        assert_all_pages(job, service.store, 3)

        fake.fail_next(3, "timeout", endpoint="sync")  # every attempt times out
        job = await ocr(service, make_pdf(tmp_path / "u.pdf", 2))
        assert job.status == "failed" and job.error_code == "timeout", job.error
        assert "did not answer" in (job.error or "")
        job = await ocr(service, make_pdf(tmp_path / "u.pdf", 2))
        assert_all_pages(job, service.store, 2)
    assert paid_pages(fake) == 5


@pytest.mark.anyio
async def test_read_timeout_over_real_http(tmp_path):
    """A served fake that hangs (then resets): the client's own timeout fires and the retry succeeds."""
    fake = FakeUpstage(hang_seconds=2.0)
    with fake.serve() as base_url:
        async with OCRService(settings(base_url=base_url, timeout=0.5, max_retries=2)) as service:
            fake.fail_next(1, "timeout", endpoint="sync")
            started = time.monotonic()
            job = await ocr(service, make_png(tmp_path / "h.png", 2))
            assert time.monotonic() - started < 2.0, "the hang was waited out instead of timed out"
            assert_all_pages(job, service.store, 1)
    assert paid_pages(fake) == 1


class _ExpireFirstDownloads(httpx.AsyncBaseTransport):
    """Moves the fake's clock past the URL lifetime right before the first download of each batch."""

    def __init__(self, fake: FakeUpstage, clock: FakeClock):
        self.inner = fake.transport()
        self.fake, self.clock = fake, clock
        self.expired: set[int] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/_download/"):
            token = request.url.path.rsplit("/", 1)[-1]
            batch = self.fake._tokens[token][1] if token in self.fake._tokens else -1
            if batch not in self.expired:
                self.expired.add(batch)
                self.clock.advance(3600)
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_expired_batch_download_urls_are_refreshed(tmp_path):
    clock = FakeClock()
    fake = FakeUpstage(clock=clock, url_ttl=60)
    transport = _ExpireFirstDownloads(fake, clock)
    async with OCRService(settings(), transport=transport) as service:
        job = await ocr(service, make_pdf(tmp_path / "e.pdf", 105))
        assert_all_pages(job, service.store, 105)
    assert fake.expired_downloads == 11, "each batch's first URL had expired"
    assert ok_calls(fake, "download") == 11 and ok_calls(fake, "submit") == 1
    assert paid_pages(fake) == 105


@pytest.mark.anyio
async def test_urls_that_stay_expired_fail_cleanly_and_the_rerun_submits_nothing(tmp_path):
    fake = FakeUpstage(url_ttl=0)  # every download URL is already expired
    doc = make_pdf(tmp_path / "x.pdf", 101)
    async with OCRService(settings(), transport=fake.transport()) as service:
        job = await ocr(service, doc)
        assert job.status == "failed" and job.error_code == "server_error"
        assert "expired" in (job.error or "") and job.pages_done == 0
        fake.url_ttl = 900
        again = await ocr(service, doc)
        assert_all_pages(again, service.store, 101)
        assert again.request_id == job.request_id, "the rerun follows the request it already paid for"
    assert ok_calls(fake, "submit") == 1
    assert paid_pages(fake) == 101


@pytest.mark.anyio
async def test_a_failed_batch_is_reported_and_only_its_pages_are_rerun(tmp_path):
    fake = FakeUpstage(failed_batches={1})  # pages 11-20 of every async request fail
    doc = make_pdf(tmp_path / "b.pdf", 125)
    async with OCRService(settings(), transport=fake.transport()) as service:
        job = await ocr(service, doc)
        assert_all_pages(job, service.store, 125)
        failed = [b for b in job.batches if b["status"] == "failed"]
        assert [(b["batch_id"], b["start_page"], b["end_page"]) for b in failed] == [(1, 11, 20)]
        assert failed[0]["failure"], "the batch's failure message is reported"
        assert job.billed_pages == 125
    sync = [c for c in fake.calls_to("sync") if c.status == 200]
    assert len(sync) == 1 and len(page_sizes(sync[0].files["document"].data)) == 10, "only pages 11-20"
    assert ok_calls(fake, "download") == 12 and ok_calls(fake, "submit") == 1
    assert paid_pages(fake) == 125


@pytest.mark.anyio
async def test_a_failed_batch_whose_rerun_fails_keeps_its_pages_for_the_next_run(tmp_path):
    fake = FakeUpstage(failed_batches={1})
    doc = make_pdf(tmp_path / "b.pdf", 125)
    async with OCRService(settings(max_retries=2), transport=fake.transport()) as service:
        fake.fail_next(2, 500, endpoint="sync")  # the re-run of pages 11-20 fails too
        job = await ocr(service, doc)
        assert job.status == "failed" and job.error_code == "server_error"
        assert job.pages_done == 115 and not Path(job.result_path).exists()
        again = await ocr(service, doc)
        assert again.id != job.id and again.request_id == job.request_id
        assert_all_pages(again, service.store, 125)
    assert ok_calls(fake, "submit") == 1 and ok_calls(fake, "download") == 12, "nothing fetched twice"
    assert paid_pages(fake) == 125


# -- the disk fills up -------------------------------------------------------------------------------------


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    import upstage_ocr.fsutil as fsutil

    def replace(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", replace)


def test_disk_full_while_saving_fails_cleanly_and_the_rerun_does_no_ocr(capsys, tmp_path, monkeypatch, calls):
    doc = make_pdf(tmp_path / "d.pdf", 4)
    results = Path(os.environ["TMPDIR"])
    with monkeypatch.context() as m:
        _disk_full(m)
        code = main(["ocr", "--quiet", str(doc)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upstage-ocr: ") and "disk is full" in lines[0], err
    assert list(results.iterdir()) == [], "no result and no temp file left behind"
    store = JobStore(Path(os.environ["UPSTAGE_OCR_HOME"]))
    (failed,) = store.list()
    assert failed.status == "failed" and failed.error_code == "bad_output_path" and failed.pages_done == 4
    assert sorted(recognised(calls)) == [1, 2, 3, 4]

    code = main(["ocr", "--quiet", str(doc)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_upstage_json(out.strip(), pages=4)
    assert sorted(recognised(calls)) == [1, 2, 3, 4], "the rerun recognised pages again"


@pytest.mark.anyio
async def test_disk_full_on_the_upstage_engine_is_not_paid_twice(tmp_path, monkeypatch):
    fake = FakeUpstage()
    doc = make_pdf(tmp_path / "d.pdf", 3)
    async with OCRService(settings(), transport=fake.transport()) as service:
        with monkeypatch.context() as m:
            _disk_full(m)
            job = await ocr(service, doc)
        assert job.status == "failed" and "disk is full" in (job.error or "") and job.pages_done == 3
        again = await ocr(service, doc)
        assert_all_pages(again, service.store, 3)
    assert ok_calls(fake, "sync") == 1 and paid_pages(fake) == 3


# -- the process dies / two processes share one store ----------------------------------------------------------


@pytest.fixture
def env(tmp_path, calls) -> dict[str, str]:
    out = fake_engine_env(tmp_path / "site")
    out.update(PYTHONUNBUFFERED="1", UPSTAGE_OCR_FAKE_CALLS=str(calls))
    return out


def test_cli_sigkilled_mid_local_job_resumes_where_it_stopped(env, tmp_path, calls):
    env.update(UPSTAGE_OCR_FAKE_DELAY="0.1")
    doc = make_pdf(tmp_path / "k.pdf", 20)
    home = Path(env["UPSTAGE_OCR_HOME"])
    cmd = [sys.executable, "-m", "upstage_ocr", "ocr", "--quiet", str(doc)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(recognised(calls)) < 5:
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.stderr else ""
            )
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    (job,) = JobStore(home).list()
    assert job.status == "running" and 0 < job.pages_done < 20
    before = len(recognised(calls))

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    data = assert_upstage_json(again.stdout.strip(), pages=20)
    assert [p["text"] for p in data["pages"]] == [expected_text(n) for n in range(1, 21)]
    after = recognised(calls)[before:]
    assert sorted(after) == list(range(job.pages_done + 1, 21)) or sorted(after) == list(
        range(job.pages_done, 21)
    ), f"finished pages were recognised again: {after}"  # a page in flight at the kill may run twice
    assert JobStore(home).get(job.id).status == "completed"


def test_two_clis_on_the_same_file_share_one_job(env, tmp_path, calls):
    env.update(UPSTAGE_OCR_FAKE_DELAY="0.05")
    doc = make_pdf(tmp_path / "shared.pdf", 12)
    cmd = [sys.executable, "-m", "upstage_ocr", "ocr", "--quiet", str(doc)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {out.strip() for out, _err in outs}
    assert len(paths) == 1
    assert_upstage_json(paths.pop(), pages=12)
    assert sorted(recognised(calls)) == list(range(1, 13)), "both processes did the work"
    jobs = JobStore(Path(env["UPSTAGE_OCR_HOME"])).list()
    assert len(jobs) == 1 and jobs[0].status == "completed"


def test_cli_and_server_on_the_same_file_share_one_job(env, tmp_path, calls):
    from helpers import StdioServer

    env.update(UPSTAGE_OCR_FAKE_DELAY="0.05")
    doc = make_pdf(tmp_path / "both.pdf", 12)
    with StdioServer(env, cwd=tmp_path, log=tmp_path / "server.log") as server:
        started = server.call("ocr_document", {"path": str(doc), "wait": False})
        cli = subprocess.run(
            [sys.executable, "-m", "upstage_ocr", "ocr", "--quiet", str(doc)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        status = server.call("get_ocr_status", {"job_id": started["job_id"]})
        assert status["status"] == "completed" and status["result_path"] == cli.stdout.strip()
    assert sorted(recognised(calls)) == list(range(1, 13)), "the page work was done twice"


@pytest.mark.anyio
async def test_concurrent_submits_in_one_store_find_one_job(tmp_path):
    """The find-or-create is one transaction: many concurrent submitters (threads, own connections) get one job."""
    import threading

    doc = make_pdf(tmp_path / "race.pdf", 2)
    home = Path(os.environ["UPSTAGE_OCR_HOME"])
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        async def go() -> None:
            async with OCRService(Settings.load(home=home)) as service:
                barrier.wait()
                ids.append((await service.submit(str(doc))).job.id)

        anyio.run(go)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 8 and len(set(ids)) == 1, ids
