"""The Upstage API backend: a job's document to the cloud, its pages back into the store.

Small documents go in one sync call; larger ones (or `async` jobs) are submitted once to the async API, whose
request id is committed before anything else, then polled; each batch is stored the moment it is downloaded.
Batches that failed or never came back, and anything left by an earlier run, are re-run alone with sync calls
of at most 100 pages, so no stored page is paid for twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel

from ..errors import BadRequestError, FileTooLargeError, OCRError, PageRangeError
from ..inputs import documents
from ..models import parse_result
from .job import Job
from .runner import Progress
from .store import JobStore

if TYPE_CHECKING:
    from ..upstage.client import UpstageClient

log = logging.getLogger("upstage_ocr")

SYNC_CHUNK_PAGES = documents.MAX_PAGES_SYNC


def check_limits(info: documents.DocumentInfo, numbers: list[int] | None) -> None:
    """Refuse what the Upstage API would refuse, before anything is uploaded: too many pages, a page
    selection in anything but a PDF (a subset is uploaded as a PDF cut out of the input)."""
    total = len(numbers) if numbers is not None else None
    if total is not None and total > documents.MAX_PAGES_ASYNC:
        raise FileTooLargeError(
            f"{info.name} has {total} pages; the Upstage API takes at most {documents.MAX_PAGES_ASYNC} per document",
            hint="Select a range with --pages (e.g. 1-1000) and run the rest as another job",
        )
    check_subset(info, numbers)


def check_subset(info: documents.DocumentInfo, numbers: list[int] | None) -> None:
    """Only PDFs can be cut into a subset of pages for upload (OCR and Document Parse alike)."""
    subset = numbers is not None and info.page_count is not None and len(numbers) < info.page_count
    if subset and info.kind != "pdf":
        raise PageRangeError(
            f"pages can be selected only in PDFs on the upstage engine ({info.name} is {info.kind})",
            hint="Omit --pages or use --engine local",
        )


class UpstageBackend:
    """OCR on the Upstage API. Document Parse (`parse_upstage_backend.py`) overrides the calls and the
    reading of responses (`_submit`, `_sync`, `_batch_rows`) and the sync page limit; the flow is shared."""

    sync_pages = SYNC_CHUNK_PAGES
    """The most pages one sync call takes."""
    async_fallback = True
    """Whether a refused async submit falls back to sync calls (async OCR is not confirmed by Upstage)."""

    def __init__(self, store: JobStore, client: Callable[[], UpstageClient]):
        self.store = store
        self.client = client

    async def work(self, job: Job, progress: Progress | None) -> None:
        total = job.pages_total
        done = self.store.done_indexes(job.id)
        if self.store.get_raw(job.id) is not None or (total is not None and total and len(done) >= total):
            return  # everything was recognised before (a rerun after a failure while saving the result)
        if job.request_id is None and done:
            await self._missing(job, progress)  # carried over from a failed run: only the rest
            return
        small = total is None or total <= self.sync_pages
        if job.request_id is None and small and not job.options.get("async"):
            await self._sync(job, None, progress)
            return
        if job.request_id is None:
            document, filename = self._document_for(job)
            try:
                request_id = await self._submit(job, document, filename)
            except BadRequestError as exc:
                if not self.async_fallback:
                    raise
                # Async OCR is not confirmed by Upstage: fall back to sync calls of <= 100 pages.
                log.warning("async submit refused (%s); falling back to sync chunks", exc)
                await self._chunks(job, progress)
                return
            # Committed before anything else: a restart polls this id and never submits again.
            self.store.update(job.id, request_id=request_id)
            job = self.store.get(job.id)
        await self._follow(job, progress)

    async def _submit(self, job: Job, document: Path | bytes, filename: str) -> str:
        return await self.client().submit_async(
            document, filename=filename, model=job.options["model"], schema=job.options.get("schema")
        )

    def _document_for(self, job: Job, indexes: Sequence[int] | None = None) -> tuple[Path | bytes, str]:
        """What to upload: the file itself, or a PDF of some of its pages (`indexes` into the job's pages)."""
        path = Path(job.input_path)
        if indexes is None and job.options.get("pages") is None:
            return path, job.input_name
        numbers = job.page_numbers or []
        chosen = [numbers[i] for i in indexes] if indexes is not None else numbers
        from ..upstage.uploads import pdf_subset

        return pdf_subset(path, chosen), f"{Path(job.input_name).stem}.pdf"

    async def _sync(self, job: Job, indexes: list[int] | None, progress: Progress | None) -> None:
        """One sync call for the job's pages at `indexes` (None: the whole selection)."""
        whole = indexes is None or (job.pages_total is not None and indexes == list(range(job.pages_total)))
        document, filename = self._document_for(job, None if whole else indexes)
        raw = await self.client().ocr_sync(
            document, filename=filename, model=job.options["model"], schema=job.options.get("schema")
        )
        if job.options.get("schema"):
            self.store.set_raw(job.id, raw)
            self.store.update(
                job.id, pages_done=job.pages_total or 0, model_version=str(raw.get("modelVersion", ""))
            )
            return
        sizes = None
        if "apiVersion" not in raw:  # the other documented shape: coordinates 0..1 of the pages sent
            sizes = await anyio.to_thread.run_sync(self._page_sizes, job, None if whole else indexes)
        result = parse_result(raw, page_sizes=sizes)
        if whole and "apiVersion" in raw:
            self.store.set_envelope(job.id, raw)
        rows = []
        for i, page in enumerate(result.pages):
            if indexes is not None and i >= len(indexes):
                break  # never more pages than were sent
            idx = indexes[i] if indexes is not None else i
            rows.append((idx, job.page_number(idx), page))
        if job.pages_total is None:
            self.store.update(job.id, pages_total=len(result.pages))
        count = self.store.add_pages(job.id, rows, billed=result.numBilledPages)
        self.store.update(job.id, model_version=result.modelVersion)
        if progress:
            await progress(count, job.pages_total or count, f"{count} pages recognised")

    def _page_sizes(self, job: Job, indexes: list[int] | None) -> list[tuple[int, int]] | None:
        """Pixel sizes of the pages sent, to turn the other documented shape's 0..1 coordinates into pixels."""
        try:
            info = documents.inspect_document(Path(job.input_path), digest=False)
            if info.kind == "office":
                return None
            sizes = documents.page_sizes(info, documents.DEFAULT_DPI)
        except OCRError:
            return None
        numbers = job.page_numbers or list(range(1, len(sizes) + 1))
        chosen = [numbers[i] for i in indexes] if indexes is not None else numbers
        return [sizes[n - 1] for n in chosen if 0 < n <= len(sizes)]

    async def _chunks(self, job: Job, progress: Progress | None) -> None:
        total = job.pages_total or 0
        for start in range(0, total, self.sync_pages):
            indexes = list(range(start, min(total, start + self.sync_pages)))
            if set(indexes) <= self.store.done_indexes(job.id):
                continue
            await self._sync(job, indexes, progress)

    def _batch_rows(
        self, job: Job, meta: dict[str, Any], data: dict[str, Any]
    ) -> tuple[Sequence[tuple[int, int, BaseModel]], int, str | None]:
        """(store rows, billed pages, model version) of one downloaded batch."""
        from ..upstage.results import batch_pages

        pages = batch_pages(data, int(meta["start_page"]))
        rows = [(page.id, job.page_number(page.id), page) for page in pages]
        billed = int(data.get("numBilledPages", len(pages)) or 0)
        return rows, billed, str(data["modelVersion"]) if data.get("modelVersion") else None

    async def _follow(self, job: Job, progress: Progress | None) -> None:
        assert job.request_id is not None
        total = job.pages_total or 0
        done_batches = self.store.stored_batch_ids(job.id)

        async def on_batch(meta: dict[str, Any], data: dict[str, Any]) -> None:
            start, end = int(meta["start_page"]), int(meta["end_page"])
            rows, billed, version = self._batch_rows(job, meta, data)
            self.store.store_batch(job.id, int(meta["id"]), start, end, rows, billed)
            if version:
                self.store.update(job.id, model_version=version)
            if progress:
                done = self.store.get(job.id).pages_done
                await progress(
                    done, total, f"batch {int(meta['id']) + 1}: pages {start}-{end} ({done}/{total})"
                )

        async def on_status(status: dict[str, Any]) -> None:
            for b in status.get("batches") or []:
                if int(b.get("id", -1)) in done_batches:
                    continue
                self.store.set_batch(
                    job.id,
                    int(b["id"]),
                    int(b.get("start_page", 0)),
                    int(b.get("end_page", 0)),
                    str(b.get("status", "")),
                    b.get("failure_message") or None,
                )

        try:
            status = await self.client().follow_async(
                job.request_id, done_batches=done_batches, on_batch=on_batch, on_status=on_status
            )
        except BadRequestError as exc:
            if exc.status != 404:
                raise
            # The request is gone at Upstage (expired): the pages not stored yet are re-run synchronously.
            status = {"failure_message": f"request {job.request_id} is no longer known to the API"}
        # Batches that failed (or never came back) are re-run alone, synchronously; stored pages are kept.
        await self._missing(job, progress, str(status.get("failure_message") or "failed batches"))

    async def _missing(self, job: Job, progress: Progress | None, why: str = "an earlier run") -> None:
        """Recognise the job's pages that are not stored yet with sync calls (<= 100 pages each)."""
        total = job.pages_total or 0
        missing = sorted(set(range(total)) - self.store.done_indexes(job.id))
        if missing:
            log.warning("job %s: %d pages missing (%s); re-running only those", job.id, len(missing), why)
            for start in range(0, len(missing), self.sync_pages):
                await self._sync(job, missing[start : start + self.sync_pages], progress)
