from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

import pytest

from upstage_ocr.errors import JobError, StoreError
from upstage_ocr.jobs.job import job_key
from upstage_ocr.jobs.store import JobStore
from upstage_ocr.models import Page


def _page(i: int, text: str = "hello") -> Page:
    return Page(confidence=0.9, height=100, id=i, text=text, width=200, words=[])


def _create(store: JobStore, key: str = "k", total: int = 3):
    return store.create(
        key=key,
        input_name="a.pdf",
        input_path="/tmp/a.pdf",
        source="/tmp/a.pdf",
        sha256="s" * 64,
        size=10,
        options={"engine": "local"},
        engine="local",
        pages_total=total,
        page_numbers=list(range(1, total + 1)),
    )


def test_store_uses_wal_and_user_only_permissions(tmp_path):
    store = JobStore(tmp_path / "h")
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert (store.path.stat().st_mode & 0o777) == 0o600


def test_job_key_depends_on_content_and_result_changing_options():
    a = job_key("x", {"engine": "local", "pages": None})
    assert a == job_key("x", {"pages": None, "engine": "local"})
    assert a != job_key("y", {"engine": "local", "pages": None})
    assert a != job_key("x", {"engine": "upstage", "pages": None})


def test_pages_are_committed_one_by_one_and_survive_reopening(tmp_path):
    store = JobStore(tmp_path)
    job = _create(store)
    store.add_pages(job.id, [(1, 2, _page(1, "second"))])
    store.add_pages(job.id, [(0, 1, _page(0, "first"))], billed=0)
    reopened = JobStore(tmp_path)
    assert reopened.get(job.id).pages_done == 2
    assert reopened.done_indexes(job.id) == {0, 1}
    assert [p.text for _, _, p in reopened.iter_pages(job.id)] == ["first", "second"]
    assert [n for _, n, _ in reopened.iter_pages(job.id, [1])] == [2]


def test_find_reusable_skips_failed_jobs_and_prefers_newest(tmp_path):
    store = JobStore(tmp_path)
    first = _create(store, key="same")
    store.mark_failed(first.id, "boom", "engine_error")
    assert store.find_reusable("same") is None
    second = _create(store, key="same")
    assert store.find_reusable("same").id == second.id


def test_unknown_job_is_a_job_error_with_a_hint(tmp_path):
    with pytest.raises(JobError, match="no job with id 'nope'") as info:
        JobStore(tmp_path).get("nope")
    assert info.value.exit_code == 17
    assert "upstage-ocr jobs" in str(info.value)


def test_a_stored_batch_is_never_overwritten_by_a_later_status(tmp_path):
    store = JobStore(tmp_path)
    job = _create(store, total=20)
    store.store_batch(job.id, 0, 1, 10, [(i, i + 1, _page(i)) for i in range(10)], billed=10)
    store.set_batch(job.id, 0, 1, 10, "completed")  # a later poll must not undo "stored"
    store.set_batch(job.id, 1, 11, 20, "started")
    assert store.stored_batch_ids(job.id) == {0}
    assert [b["status"] for b in store.batches(job.id)] == ["stored", "started"]
    assert store.get(job.id).billed_pages == 10


def _claim(home: str, job_id: str, queue) -> None:  # runs in a child process
    queue.put(JobStore(__import__("pathlib").Path(home)).claim(job_id))


def test_only_one_process_holds_a_job(tmp_path):
    store = JobStore(tmp_path)
    job = _create(store)
    assert store.claim(job.id) is True
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_claim, args=(str(tmp_path), job.id, queue))
    child.start()
    child.join(60)
    assert queue.get(timeout=5) is False  # this live process holds the lease
    store.release(job.id)
    child = ctx.Process(target=_claim, args=(str(tmp_path), job.id, queue))
    child.start()
    child.join(60)
    assert queue.get(timeout=5) is True


def test_a_dead_owner_lease_is_free_at_once(tmp_path):
    store = JobStore(tmp_path)
    job = _create(store)
    code = (
        "import sys, pathlib; from upstage_ocr.jobs.store import JobStore;"
        f"s = JobStore(pathlib.Path({str(tmp_path)!r})); print(s.claim({job.id!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    # the child exited (as after kill -9) without releasing; its lease has not expired but its owner is gone
    job = store.get(job.id)
    assert job.lease_owner is not None and job.lease_until > 0
    assert store.lease_held_elsewhere(job) is False
    assert store.claim(job.id) is True


def _fill_up(store: JobStore) -> None:
    """The database may not grow past its current size: SQLite answers SQLITE_FULL, as on a full disk."""
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_is_a_store_error_that_says_so_and_keeps_what_was_stored(tmp_path):
    store = JobStore(tmp_path)
    job = _create(store, total=50)
    store.add_pages(job.id, [(0, 1, _page(0))])
    _fill_up(store)
    big = "x" * 200_000
    with pytest.raises(StoreError, match="the disk is full") as info:
        store.add_pages(job.id, [(i, i + 1, _page(i, big)) for i in range(1, 20)])
    assert info.value.exit_code == 17 and info.value.code == "job_error"
    assert "run the same command again" in str(info.value)
    assert "Traceback" not in str(info.value)
    # the failed transaction was rolled back whole: the store is usable and holds what it held
    reopened = JobStore(tmp_path)
    assert [p.id for _, _, p in reopened.iter_pages(job.id)] == [0]
    store.mark_failed(job.id, "stopped", "job_error")  # small writes still fit
    assert reopened.get(job.id).status == "failed"


def test_other_sqlite_errors_are_not_disguised(tmp_path):
    store = JobStore(tmp_path)
    with pytest.raises(sqlite3.OperationalError, match="no such table"), store._tx() as db:
        db.execute("SELECT * FROM nowhere")
