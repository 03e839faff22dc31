"""The durable job store: every OCR run is a job in SQLite (WAL) under UPSTAGE_OCR_HOME, page by page.

A job row holds what was asked (input, sha256, options), where it stands (status, pages done/total, the Upstage
async request id and its batches) and who is working on it (a lease). Finished pages are rows of their own,
committed as they arrive, so a job survives a crash and resumes from its first missing page; a batch downloaded
once is never downloaded (or paid for) again.

Several processes may share one store: a job is worked on only by the process holding its lease
(`leases.py`). This module owns the database (schema, connections, transactions) and the jobs table;
`page_rows.py` owns the pages, batches and kept responses.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import JobError, StoreError
from ..vocab import UNFINISHED_STATUSES
from .job import Job
from .leases import Leases
from .page_rows import PageRows

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


def _use_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch the database to WAL. While another process is creating the same database, SQLite answers this
    pragma with `database is locked` at once, without waiting on its busy timeout (two CLIs started together
    on a fresh home failed that way), so it is retried until `deadline`."""
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(2 * delay, 0.25)


class JobStore(PageRows, Leases):
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
            _use_wal(conn, deadline=time.monotonic() + 30.0)
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
            .execute(
                f"SELECT * FROM jobs WHERE status IN ({','.join('?' * len(UNFINISHED_STATUSES))}) ORDER BY created_at",
                UNFINISHED_STATUSES,
            )
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
