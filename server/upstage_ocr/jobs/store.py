"""The durable job store: every OCR run is a job in SQLite (WAL) under UPSTAGE_OCR_HOME, page by page.

A job row holds what was asked (input, sha256, options), where it stands (status, pages done/total, the Upstage
async request id and its batches) and who is working on it (a lease). Finished pages are rows of their own,
committed as they arrive, so a job survives a crash and resumes from its first missing page; a batch downloaded
once is never downloaded (or paid for) again.

Several processes may share one store: a job is worked on only by the process holding its lease. A lease is
free when it has expired or when its owner process on this host is gone (so a SIGKILL'd server's jobs are
picked up at once by the next process).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import JobError, StoreError
from ..models import Page
from .job import Job

UNFINISHED: tuple[str, ...] = ("queued", "running")
LEASE_SECONDS = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    job_key       TEXT NOT NULL,
    input_name    TEXT NOT NULL,
    input_path    TEXT NOT NULL,
    source        TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    options       TEXT NOT NULL,
    engine        TEXT NOT NULL,
    status        TEXT NOT NULL,
    pages_total   INTEGER,
    pages_done    INTEGER NOT NULL DEFAULT 0,
    page_numbers  TEXT,
    request_id    TEXT,
    model_version TEXT,
    billed_pages  INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    error_code    TEXT,
    result_path   TEXT,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    finished_at   REAL,
    lease_owner   TEXT,
    lease_until   REAL
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(job_key, created_at);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE TABLE IF NOT EXISTS pages (
    job_id      TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    page_number INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS batches (
    job_id      TEXT NOT NULL,
    batch_id    INTEGER NOT NULL,
    start_page  INTEGER NOT NULL,
    end_page    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    failure     TEXT,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (job_id, batch_id)
);
CREATE TABLE IF NOT EXISTS envelopes (
    job_id TEXT PRIMARY KEY,
    data   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_results (
    job_id TEXT PRIMARY KEY,
    data   TEXT NOT NULL
);
"""


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_NONCE}"


_PROCESS_NONCE = uuid.uuid4().hex[:8]


def _owner_alive(owner: str) -> bool:
    try:
        host, pid_text, _nonce = owner.split(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True  # another host: trust the lease's expiry only
    if pid == os.getpid():
        return owner == _owner_id()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_PAGE_HEAD = "json_extract(data, '$.confidence', '$.height', '$.id', '$.text', '$.width')"


def _page_head(head: str) -> Page:
    """A Page without words from the `_PAGE_HEAD` array (stored pages were validated when they were added)."""
    confidence, height, page_id, text, width = json.loads(head)
    return Page.model_construct(
        confidence=confidence, height=height, id=page_id, text=text, width=width, words=[]
    )


_STORE_FAILURES = ("disk is full", "disk i/o error", "readonly database", "unable to open database")


def store_problem(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """The user's side of a failed store write (their disk), or None for anything else (a bug of ours)."""
    text = str(exc).lower()
    if not any(f in text for f in _STORE_FAILURES):
        return None
    what = "the disk is full" if "full" in text else f"it failed ({exc})"
    return StoreError(
        f"could not write the job store {path}: {what}",
        hint="Free some space (or set UPSTAGE_OCR_HOME to a writable folder) and run the same command again; "
        "pages already finished are kept",
    )


class JobStore:
    """SQLite job store. Thread-safe: one connection per thread, short transactions, WAL for readers."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.home, 0o700)
        self.path = self.home / "jobs.sqlite3"
        self._local = threading.local()
        # Created user-only before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
        # O_EXCL: never open (and close) an existing database here, which would drop this process's SQLite locks.
        with contextlib.suppress(OSError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = self._conn()
        conn.executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for path in (
            self.path,
            self.path.with_name(self.path.name + "-wal"),
            self.path.with_name(self.path.name + "-shm"),
        ):
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)

    # -- connection ------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            problem = store_problem(exc, self.path)
            if problem is None:
                raise
            raise problem from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- jobs ------------------------------------------------------------------------------------------
    def create(self, **fields: Any) -> Job:
        """A new job whatever exists under its key (`force`); the fields are those of `find_or_create`."""
        return self.find_or_create(**fields, reuse=False)[0]

    def find_or_create(
        self,
        *,
        key: str,
        input_name: str,
        input_path: str,
        source: str,
        sha256: str,
        size: int,
        options: dict[str, Any],
        engine: str,
        pages_total: int | None,
        page_numbers: Sequence[int] | None,
        reuse: bool = True,
    ) -> tuple[Job, bool]:
        """The reusable job with this key, or a new one: (job, created), atomically across processes.

        With `reuse`, the lookup and the insert happen in one write transaction, so two processes submitting
        the same file at once get the same job. A new job takes over the finished work (pages, stored async
        batches, the async request id) of the newest failed job with the same key, so re-running a job that
        failed part-way neither recognises nor pays for its finished pages again.
        """
        now = time.time()
        job_id = uuid.uuid4().hex[:16]
        found: str | None = None
        with self._tx() as db:
            if reuse:
                row = db.execute(
                    "SELECT id FROM jobs WHERE job_key = ? AND status != 'failed'"
                    " ORDER BY created_at DESC LIMIT 1",
                    (key,),
                ).fetchone()
                found = str(row[0]) if row is not None else None
            if found is None:
                fields: dict[str, Any] = {
                    "key": key,
                    "input_name": input_name,
                    "input_path": input_path,
                    "source": source,
                    "sha256": sha256,
                    "size": size,
                    "options": options,
                    "engine": engine,
                    "pages_total": pages_total,
                    "page_numbers": page_numbers,
                }
                self._insert(db, job_id, now, **fields)
                if reuse:
                    self._adopt_failed(db, job_id, key)
        if found is not None:
            return self.get(found), False
        return self.get(job_id), True

    @staticmethod
    def _adopt_failed(db: sqlite3.Connection, job_id: str, key: str) -> None:
        """Copy the finished work of the newest failed job with `key` into the new job `job_id`."""
        old = db.execute(
            "SELECT id, request_id, model_version, billed_pages FROM jobs WHERE job_key = ? AND id != ?"
            " AND status = 'failed' AND (pages_done > 0 OR request_id IS NOT NULL)"
            " ORDER BY created_at DESC LIMIT 1",
            (key, job_id),
        ).fetchone()
        if old is None:
            return
        old_id = old["id"]
        db.execute(
            "INSERT INTO pages (job_id, idx, page_number, data)"
            " SELECT ?, idx, page_number, data FROM pages WHERE job_id = ?",
            (job_id, old_id),
        )
        db.execute(
            "INSERT INTO batches (job_id, batch_id, start_page, end_page, status, failure, updated_at)"
            " SELECT ?, batch_id, start_page, end_page, status, failure, updated_at FROM batches"
            " WHERE job_id = ? AND status = 'stored'",
            (job_id, old_id),
        )
        db.execute(
            "INSERT INTO raw_results (job_id, data) SELECT ?, data FROM raw_results WHERE job_id = ?",
            (job_id, old_id),
        )
        done = db.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?", (job_id,)).fetchone()[0]
        db.execute(
            "UPDATE jobs SET pages_done = ?, request_id = ?, model_version = ?, billed_pages = ? WHERE id = ?",
            (done, old["request_id"], old["model_version"], old["billed_pages"], job_id),
        )

    @staticmethod
    def _insert(
        db: sqlite3.Connection,
        job_id: str,
        now: float,
        *,
        key: str,
        input_name: str,
        input_path: str,
        source: str,
        sha256: str,
        size: int,
        options: dict[str, Any],
        engine: str,
        pages_total: int | None,
        page_numbers: Sequence[int] | None,
    ) -> None:
        db.execute(
            "INSERT INTO jobs (id, job_key, input_name, input_path, source, sha256, size, options, engine,"
            " status, pages_total, page_numbers, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
            (
                job_id,
                key,
                input_name,
                input_path,
                source,
                sha256,
                size,
                json.dumps(options, sort_keys=True),
                engine,
                pages_total,
                json.dumps(list(page_numbers)) if page_numbers is not None else None,
                now,
                now,
            ),
        )

    def find_reusable(self, key: str) -> Job | None:
        """The newest job with this key that has not failed (a finished result is never paid for twice)."""
        row = (
            self._conn()
            .execute(
                "SELECT * FROM jobs WHERE job_key = ? AND status != 'failed' ORDER BY created_at DESC LIMIT 1",
                (key,),
            )
            .fetchone()
        )
        return Job.from_row(row) if row else None

    def get(self, job_id: str) -> Job:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(
                f"no job with id {job_id!r} in {self.home}",
                hint="List jobs with `upstage-ocr jobs` (MCP: list_ocr_jobs)",
            )
        job = Job.from_row(row)
        job.batches = self.batches(job_id)
        return job

    def list(self, limit: int = 20, status: str | None = None) -> list[Job]:
        if status:
            rows = self._conn().execute(
                "SELECT * FROM jobs WHERE status = ? ORDER BY created_at DESC LIMIT ?", (status, limit)
            )
        else:
            rows = self._conn().execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))
        return [Job.from_row(r) for r in rows.fetchall()]

    def unfinished(self) -> builtins.list[Job]:
        rows = (
            self._conn()
            .execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at")
            .fetchall()
        )
        return [Job.from_row(r) for r in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        fields["updated_at"] = time.time()
        if "page_numbers" in fields and fields["page_numbers"] is not None:
            fields["page_numbers"] = json.dumps(list(fields["page_numbers"]))
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def mark_running(self, job_id: str) -> None:
        self.update(job_id, status="running", error=None, error_code=None)

    def mark_completed(self, job_id: str, *, result_path: str | None, model_version: str | None) -> None:
        self.update(
            job_id,
            status="completed",
            result_path=result_path,
            model_version=model_version,
            finished_at=time.time(),
            error=None,
            error_code=None,
        )

    def mark_failed(self, job_id: str, message: str, code: str) -> None:
        self.update(job_id, status="failed", error=message, error_code=code, finished_at=time.time())

    # -- leases ----------------------------------------------------------------------------------------
    def claim(self, job_id: str, seconds: float = LEASE_SECONDS) -> bool:
        """Take the job's lease for this process. False when another live process holds it."""
        me = _owner_id()
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                "SELECT lease_owner, lease_until, status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise JobError(f"no job with id {job_id!r}")
            owner, until = row["lease_owner"], row["lease_until"]
            free = owner is None or owner == me or (until or 0) < now or not _owner_alive(owner)
            if not free:
                return False
            db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?", (me, now + seconds, job_id)
            )
            return True

    def renew(self, job_id: str, seconds: float = LEASE_SECONDS) -> bool:
        me = _owner_id()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (time.time() + seconds, job_id, me),
            )
            return cur.rowcount == 1

    def release(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (job_id, _owner_id()),
            )

    def lease_held_elsewhere(self, job: Job) -> bool:
        if job.lease_owner is None or job.lease_owner == _owner_id():
            return False
        return (job.lease_until or 0) >= time.time() and _owner_alive(job.lease_owner)

    # -- pages -----------------------------------------------------------------------------------------
    def add_pages(self, job_id: str, pages: Sequence[tuple[int, int, Page]], *, billed: int = 0) -> int:
        """Commit finished pages (position in the result, 1-based document page, page) in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pages (job_id, idx, page_number, data) VALUES (?, ?, ?, ?)",
                [(job_id, idx, number, page.model_dump_json()) for idx, number, page in pages],
            )
            done = db.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?", (job_id,)).fetchone()[0]
            db.execute(
                "UPDATE jobs SET pages_done = ?, billed_pages = billed_pages + ?, updated_at = ? WHERE id = ?",
                (done, billed, time.time(), job_id),
            )
        return int(done)

    def done_indexes(self, job_id: str) -> set[int]:
        rows = self._conn().execute("SELECT idx FROM pages WHERE job_id = ?", (job_id,)).fetchall()
        return {int(r[0]) for r in rows}

    def iter_pages(
        self, job_id: str, indexes: Sequence[int] | None = None, *, words: bool = True
    ) -> Iterator[tuple[int, int, Page]]:
        """Stored pages in result order: (idx, page_number, Page). Streams; never loads the whole job at once.

        `words=False` gives pages without their words (text, confidence and size only), read by SQLite's JSON
        functions: a page's words are never parsed, which makes a text-only read of 10 dense pages about 10x
        faster (bench/server.py).
        """
        conn = self._conn()
        column = "data" if words else _PAGE_HEAD
        make = Page.model_validate_json if words else _page_head
        if indexes is None:
            cur = conn.execute(
                f"SELECT idx, page_number, {column} FROM pages WHERE job_id = ? ORDER BY idx", (job_id,)
            )
            for idx, number, data in cur:
                yield int(idx), int(number), make(data)
            return
        wanted = sorted(set(indexes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cur = conn.execute(
                f"SELECT idx, page_number, {column} FROM pages WHERE job_id = ? AND idx IN ({marks})"
                " ORDER BY idx",
                (job_id, *chunk),
            )
            for idx, number, data in cur.fetchall():
                yield int(idx), int(number), make(data)

    def clear_pages(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM pages WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM batches WHERE job_id = ?", (job_id,))
            db.execute("UPDATE jobs SET pages_done = 0 WHERE id = ?", (job_id,))

    # -- async batches ---------------------------------------------------------------------------------
    def set_batch(
        self,
        job_id: str,
        batch_id: int,
        start_page: int,
        end_page: int,
        status: str,
        failure: str | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (job_id, batch_id, start_page, end_page, status, failure, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(job_id, batch_id) DO UPDATE SET status = excluded.status,"
                " failure = excluded.failure, updated_at = excluded.updated_at,"
                " start_page = excluded.start_page, end_page = excluded.end_page"
                " WHERE batches.status != 'stored'",
                (job_id, batch_id, start_page, end_page, status, failure, time.time()),
            )

    def store_batch(
        self,
        job_id: str,
        batch_id: int,
        start_page: int,
        end_page: int,
        pages: Sequence[tuple[int, int, Page]],
        billed: int,
    ) -> None:
        """A downloaded batch's pages and the batch's `stored` mark, in one transaction."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pages (job_id, idx, page_number, data) VALUES (?, ?, ?, ?)",
                [(job_id, idx, number, page.model_dump_json()) for idx, number, page in pages],
            )
            db.execute(
                "INSERT INTO batches (job_id, batch_id, start_page, end_page, status, failure, updated_at)"
                " VALUES (?, ?, ?, ?, 'stored', NULL, ?) ON CONFLICT(job_id, batch_id) DO UPDATE SET"
                " status = 'stored', failure = NULL, updated_at = excluded.updated_at",
                (job_id, batch_id, start_page, end_page, now),
            )
            done = db.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?", (job_id,)).fetchone()[0]
            db.execute(
                "UPDATE jobs SET pages_done = ?, billed_pages = billed_pages + ?, updated_at = ? WHERE id = ?",
                (done, billed, now, job_id),
            )

    def batches(self, job_id: str) -> builtins.list[dict[str, Any]]:
        rows = (
            self._conn()
            .execute(
                "SELECT batch_id, start_page, end_page, status, failure FROM batches WHERE job_id = ? ORDER BY batch_id",
                (job_id,),
            )
            .fetchall()
        )
        return [dict(r) for r in rows]

    def stored_batch_ids(self, job_id: str) -> set[int]:
        return {b["batch_id"] for b in self.batches(job_id) if b["status"] == "stored"}

    # -- raw results (schema=clova/google on the upstage engine are kept as the API returned them) ------
    def set_raw(self, job_id: str, data: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO raw_results (job_id, data) VALUES (?, ?)", (job_id, json.dumps(data))
            )

    def get_raw(self, job_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT data FROM raw_results WHERE job_id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- the API's own response to a whole-document sync call, written back unchanged -----------------------
    def set_envelope(self, job_id: str, data: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO envelopes (job_id, data) VALUES (?, ?)", (job_id, json.dumps(data))
            )

    def get_envelope(self, job_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT data FROM envelopes WHERE job_id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None
