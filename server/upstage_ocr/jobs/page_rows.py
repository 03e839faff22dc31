"""What a job has produced so far, in the store: its finished pages, its Upstage async batches, and the API's
own responses kept as they came (a whole-document sync call; a clova/google schema result).

`PageRows` is the half of `JobStore` that owns these tables; the store mixes it in.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pydantic import BaseModel

from ..models import Page, PageJSON, page_json

StoredPage = BaseModel | PageJSON

_PAGE_HEAD = "json_extract(data, '$.confidence', '$.height', '$.id', '$.text', '$.width')"


def _page_head(head: str) -> Page:
    """A Page without words from the `_PAGE_HEAD` array (stored pages were validated when they were added)."""
    confidence, height, page_id, text, width = json.loads(head)
    return Page.model_construct(
        confidence=confidence, height=height, id=page_id, text=text, width=width, words=[]
    )


def _commit_pages(
    db: sqlite3.Connection, job_id: str, pages: Sequence[tuple[int, int, StoredPage]], billed: int, now: float
) -> int:
    """Insert `pages` and bring the job's page count and billing up to date (inside the caller's transaction)."""
    db.executemany(
        "INSERT OR REPLACE INTO pages (job_id, idx, page_number, data) VALUES (?, ?, ?, ?)",
        [(job_id, idx, number, page_json(page)) for idx, number, page in pages],
    )
    done = int(db.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?", (job_id,)).fetchone()[0])
    db.execute(
        "UPDATE jobs SET pages_done = ?, billed_pages = billed_pages + ?, updated_at = ? WHERE id = ?",
        (done, billed, now, job_id),
    )
    return done


class PageRows:
    """Pages, batches and kept responses of jobs (the store's connection and transactions come from JobStore)."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # -- pages -----------------------------------------------------------------------------------------
    def add_pages(self, job_id: str, pages: Sequence[tuple[int, int, StoredPage]], *, billed: int = 0) -> int:
        """Commit finished pages (position in the result, 1-based document page, page) in one transaction.

        A page is an OCR `Page` or its JSON (`models.PageJSON`, a page read from a PDF's text layer), or a
        parse job's page of elements (`jobs/parse_store.py`).
        """
        with self._tx() as db:
            return _commit_pages(db, job_id, pages, billed, time.time())

    def done_indexes(self, job_id: str) -> set[int]:
        rows = self._conn().execute("SELECT idx FROM pages WHERE job_id = ?", (job_id,)).fetchall()
        return {int(r[0]) for r in rows}

    def page_sources(self, job_id: str) -> dict[str, int]:
        """How many stored pages came from each source ("text-layer", "ocr"; "" when not recorded)."""
        rows = self._conn().execute(
            "SELECT COALESCE(json_extract(data, '$.source'), ''), COUNT(*) FROM pages WHERE job_id = ? GROUP BY 1",
            (job_id,),
        )
        return {str(source): int(count) for source, count in rows.fetchall()}

    def iter_pages(
        self, job_id: str, indexes: Sequence[int] | None = None, *, words: bool = True
    ) -> Iterator[tuple[int, int, Page]]:
        """Stored pages in result order: (idx, page_number, Page). Streams; never loads the whole job at once.

        `words=False` gives pages without their words (text, confidence and size only), read by SQLite's JSON
        functions: a page's words are never parsed, which makes a text-only read of 10 dense pages about 10x
        faster (bench/server.py).
        """
        make = Page.model_validate_json if words else _page_head
        for idx, number, data in self.iter_page_data(job_id, indexes, "data" if words else _PAGE_HEAD):
            yield idx, number, make(data)

    def iter_page_data(
        self, job_id: str, indexes: Sequence[int] | None = None, column: str = "data"
    ) -> Iterator[tuple[int, int, str]]:
        """Stored pages in result order as (idx, page_number, their JSON text), unparsed."""
        conn = self._conn()
        if indexes is None:
            cur = conn.execute(
                f"SELECT idx, page_number, {column} FROM pages WHERE job_id = ? ORDER BY idx", (job_id,)
            )
            for idx, number, data in cur:
                yield int(idx), int(number), data
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
                yield int(idx), int(number), data

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
        pages: Sequence[tuple[int, int, BaseModel]],
        billed: int,
    ) -> None:
        """A downloaded batch's pages and the batch's `stored` mark, in one transaction."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (job_id, batch_id, start_page, end_page, status, failure, updated_at)"
                " VALUES (?, ?, ?, ?, 'stored', NULL, ?) ON CONFLICT(job_id, batch_id) DO UPDATE SET"
                " status = 'stored', failure = NULL, updated_at = excluded.updated_at",
                (job_id, batch_id, start_page, end_page, now),
            )
            _commit_pages(db, job_id, pages, billed, now)

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
