"""Durable jobs: SIGKILL the MCP server mid-job, start a new one on the same UPSTAGE_OCR_HOME, and the job
finishes without submitting, downloading or recognising anything twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fake_upstage import DEFAULT_KEY, FakeUpstage
from helpers import (
    StdioServer,
    assert_upstage_json,
    downloaded_batches,
    expected_text,
    fake_engine_env,
    make_pdf,
)
from upstage_ocr.jobs.store import JobStore


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = fake_engine_env(tmp_path / "site")
    out.update(UPSTAGE_OCR_HOME=str(tmp_path / "home"), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    return out


def poll(server: StdioServer, job_id: str, until: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        st = server.call("get_ocr_status", {"job_id": job_id})
        if until(st):
            return st
        assert st["status"] != "failed", st
        assert time.monotonic() < deadline, f"timed out; last status {st}"
        time.sleep(0.05)


def settle(server: StdioServer, job_id: str, quiet: float = 0.4) -> dict[str, Any]:
    """Wait until pages_done stops moving for `quiet` seconds (the worker is between polls/pages)."""
    last = server.call("get_ocr_status", {"job_id": job_id})
    since = time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        st = server.call("get_ocr_status", {"job_id": job_id})
        if st["pages_done"] != last["pages_done"]:
            last, since = st, time.monotonic()
    return last


def all_pages(server: StdioServer, job_id: str, total: int, step: int = 100) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    for start in range(1, total + 1, step):
        end = min(total, start + step - 1)
        out = server.call("fetch_ocr_pages", {"job_id": job_id, "pages": f"{start}-{end}"})
        assert [p["page"] for p in out["pages"]] == list(range(start, end + 1))
        pages.extend(out["pages"])
    return pages


def test_upstage_async_job_survives_sigkill(env, tmp_path):
    fake = FakeUpstage(seconds_per_batch=0.2)  # 25 batches of 10 pages, one every 0.2 s
    doc = make_pdf(tmp_path / "long.pdf", 250)
    home = Path(env["UPSTAGE_OCR_HOME"])
    with fake.serve() as base_url:
        env.update(UPSTAGE_API_KEY=DEFAULT_KEY, UPSTAGE_BASE_URL=base_url, UPSTAGE_OCR_RATE_LIMIT="200")

        first = StdioServer(env, cwd=tmp_path, log=tmp_path / "server1.log")
        try:
            out = first.call("ocr_document", {"path": str(doc)})
            assert out["status"] in ("queued", "running") and out["page_count"] == 250
            job_id = out["job_id"]
            poll(first, job_id, lambda st: st["pages_done"] > 0)
            before = settle(first, job_id)
            assert 0 < before["pages_done"] < 250, before
            assert before["status"] == "running"
        finally:
            first.kill()

        # What the killed process left behind: a running job, some batches stored, its lease still set.
        job = JobStore(home).get(job_id)
        assert job.status == "running" and 0 < job.pages_done < 250
        assert job.request_id is not None and job.lease_owner is not None
        stored_before = {b["batch_id"] for b in job.batches if b["status"] == "stored"}
        assert stored_before and len(stored_before) * 10 == job.pages_done
        assert sorted(downloaded_batches(fake)) == sorted(stored_before)

        with StdioServer(env, cwd=tmp_path, log=tmp_path / "server2.log") as second:
            done = poll(second, job_id, lambda st: st["status"] == "completed")
            assert done["pages_done"] == done["pages_total"] == 250
            pages = all_pages(second, job_id, 250)
            assert [p["source_page"] for p in pages] == list(range(1, 251))
            for p in pages:
                assert p["text"].startswith(f"Fake OCR page {p['page']} \n"), p
            data = assert_upstage_json(done["result_path"], pages=250)
            assert data["numBilledPages"] == 250
            again = second.call("ocr_document", {"path": str(doc)})
            assert again["reused"] is True and again["job_id"] == job_id

    assert fake.submits == 1, "the restarted server polls the stored request id; it never submits again"
    assert fake.sync_calls == 0
    batches = downloaded_batches(fake)
    assert sorted(batches) == list(range(25)), f"a batch was downloaded twice or never: {sorted(batches)}"


def test_local_job_resumes_from_its_first_unfinished_page(env, tmp_path):
    calls = tmp_path / "calls.txt"
    calls.touch()
    env.update(UPSTAGE_OCR_FAKE_DELAY="0.1", UPSTAGE_OCR_FAKE_CALLS=str(calls), UPSTAGE_OCR_WORKERS="1")
    doc = make_pdf(tmp_path / "local.pdf", 20)
    home = Path(env["UPSTAGE_OCR_HOME"])

    first = StdioServer(env, cwd=tmp_path, log=tmp_path / "server1.log")
    try:
        out = first.call("ocr_document", {"path": str(doc), "engine": "local"})
        assert out["status"] in ("queued", "running") and out["page_count"] == 20
        job_id = out["job_id"]
        poll(first, job_id, lambda st: st["pages_done"] >= 5)
    finally:
        first.kill()

    job = JobStore(home).get(job_id)
    assert job.status == "running" and 5 <= job.pages_done < 20
    stored = sorted(n for _i, n, _p in JobStore(home).iter_pages(job_id))
    assert stored == list(range(1, job.pages_done + 1)), "pages are committed in order"
    seen_before = [int(x) for x in calls.read_text().split()]
    assert set(stored) <= set(seen_before)

    with StdioServer(env, cwd=tmp_path, log=tmp_path / "server2.log") as second:
        done = poll(second, job_id, lambda st: st["status"] == "completed")
        assert done["pages_done"] == 20
        pages = all_pages(second, job_id, 20, step=10)
        assert [p["text"] for p in pages] == [expected_text(n) for n in range(1, 21)]
        assert_upstage_json(done["result_path"], pages=20)

    after = [int(x) for x in calls.read_text().split()][len(seen_before) :]
    assert after[0] == job.pages_done + 1, f"resumed at page {after[0]}, not at the first unfinished page"
    assert sorted(after) == list(range(job.pages_done + 1, 21)), "finished pages were recognised again"
