"""What both front doors (CLI and MCP server) call: submit, run, resume, inspect and read OCR jobs.

`OCRService` owns the job store and one Upstage client per process. `submit` checks the input and finds or
creates the job (no work, nothing uploaded); `run` works a job to its end under a lease, committing pages as
they arrive; `resume_unfinished` picks up jobs a dead process left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import (
    NO_KEY_HINT,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    FileTooLargeError,
    JobError,
    OCRError,
    PageRangeError,
    redact,
)
from ..fsutil import atomic_write_text, resolve_output
from ..inputs import documents
from ..models import OCRResult, Page, assemble, parse_result
from ..settings import ENGINES, SCHEMAS, Settings
from .store import Job, JobStore, job_key

if TYPE_CHECKING:
    import httpx

    from ..upstage.client import UpstageClient

log = logging.getLogger("upstage_ocr")

Progress = Callable[[int, int | None, str], Awaitable[None]]
HEARTBEAT_SECONDS = 10.0
WAIT_POLL_SECONDS = 0.5
SYNC_CHUNK_PAGES = documents.MAX_PAGES_SYNC


@dataclass
class Submission:
    job: Job
    reused: bool


class OCRService:
    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.store = JobStore(settings.home)
        self._transport = transport
        self._client: UpstageClient | None = None
        self._running: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> OCRService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def client(self) -> UpstageClient:
        if self._client is None:
            from ..upstage.client import UpstageClient

            self._client = UpstageClient(self.settings, transport=self._transport)
        return self._client

    # -- submit ----------------------------------------------------------------------------------------
    def resolve_engine(self, engine: str | None) -> str:
        name = engine or self.settings.engine
        if name not in ENGINES:
            raise ConfigError(f"unknown engine {name!r}", hint=f"Choose one of: {', '.join(ENGINES)}")
        if name == "auto":
            name = "upstage" if self.settings.api_key else "local"
        if name == "upstage" and not self.settings.api_key:
            raise AuthenticationError(
                "the upstage engine needs an API key and UPSTAGE_API_KEY is not set", hint=NO_KEY_HINT
            )
        return name

    async def fetch_source(self, source: str) -> Path:
        """A local path as is; an http(s) URL downloaded (safely) into the store's downloads folder."""
        if "://" in source:
            from ..inputs.download import download_url

            dest = self.settings.home / "downloads"
            dest.mkdir(parents=True, exist_ok=True)
            return await download_url(source, dest, allow_private=self.settings.allow_private_urls)
        return Path(source).expanduser()

    async def submit(
        self,
        source: str,
        *,
        engine: str | None = None,
        model: str | None = None,
        schema: str | None = None,
        pages: str | None = None,
        lang: str | None = None,
        output: str | None = None,
        force: bool = False,
        use_async: bool = False,
    ) -> Submission:
        """Check the input and find or create its job. Nothing is recognised or uploaded here.

        `use_async` sends even a small document through the Upstage async API (no 3-minute sync timeout);
        it does not change the result, so it is not part of the job's identity.
        """
        if schema is not None and schema not in SCHEMAS:
            raise ConfigError(
                f"unknown schema {schema!r}", hint=f"Choose one of: {', '.join(SCHEMAS)} (or none)"
            )
        engine_name = self.resolve_engine(engine)
        path = await self.fetch_source(source)
        info = await anyio.to_thread.run_sync(documents.inspect_document, path)
        work_info = info
        if engine_name != "upstage" and info.kind == "office":
            converted = self.settings.home / "converted" / info.sha256[:24]  # one folder per content
            converted.mkdir(parents=True, exist_ok=True)
            pdf = await anyio.to_thread.run_sync(documents.convert_office_to_pdf, info, converted)
            work_info = await anyio.to_thread.run_sync(documents.inspect_document, pdf)
        page_numbers = documents.parse_page_range(pages, work_info.page_count)
        if page_numbers is None and work_info.page_count is not None:
            page_numbers = list(range(1, work_info.page_count + 1))
        if page_numbers is not None and work_info.page_count is None:
            raise PageRangeError(
                "pages cannot be selected in this file type on the upstage engine", hint="Omit --pages"
            )
        total = len(page_numbers) if page_numbers is not None else None
        if engine_name == "upstage":
            self._check_cloud_limits(info, total, page_numbers)
        target = resolve_output(output, info.name, info.path)
        options: dict[str, Any] = {
            "engine": engine_name,
            "schema": schema,
            # A selection of every page is no selection: the same job as without one (and no subset upload).
            "pages": page_numbers
            if (pages and page_numbers is not None and page_numbers != _all_pages(work_info.page_count))
            else None,
        }
        if engine_name == "upstage":
            options["model"] = model or self.settings.model
        else:
            options["lang"] = lang or self.settings.lang
        key = job_key(info.sha256, options)
        if use_async and engine_name == "upstage":
            options["async"] = True  # stored with the job, left out of its key
        # One transaction finds or creates the job: two processes submitting the same file share one job.
        job, created = self.store.find_or_create(
            key=key,
            input_name=info.name,
            input_path=str(work_info.path.resolve()),
            source=redact(source),
            sha256=info.sha256,
            size=info.size,
            options=options,
            engine=engine_name,
            pages_total=total,
            page_numbers=page_numbers,
            reuse=not force,
        )
        if not created:
            if output is not None or job.result_path is None:
                self.store.update(job.id, result_path=str(target))
                if job.status == "completed":
                    await self.write_result(self.store.get(job.id))
            return Submission(self.store.get(job.id), reused=True)
        self.store.update(job.id, result_path=str(target))
        return Submission(self.store.get(job.id), reused=False)

    def _check_cloud_limits(
        self, info: documents.DocumentInfo, total: int | None, numbers: list[int] | None
    ) -> None:
        if total is not None and total > documents.MAX_PAGES_ASYNC:
            raise FileTooLargeError(
                f"{info.name} has {total} pages; the Upstage API takes at most {documents.MAX_PAGES_ASYNC} per document",
                hint="Select a range with --pages (e.g. 1-1000) and run the rest as another job",
            )
        subset = numbers is not None and info.page_count is not None and len(numbers) < info.page_count
        if subset and info.kind != "pdf":
            raise PageRangeError(
                f"pages can be selected only in PDFs on the upstage engine ({info.name} is {info.kind})",
                hint="Omit --pages or use --engine local",
            )

    # -- run -------------------------------------------------------------------------------------------
    async def run(self, job_id: str, progress: Progress | None = None) -> Job:
        """Work the job to its end in this task (or wait while another process does). Returns the final job."""
        job = self.store.get(job_id)
        if job.finished:
            return job
        if job_id in self._running or not self.store.claim(job_id):
            return await self.wait(job_id, progress)
        self._running.add(job_id)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._heartbeat, job_id)
                try:
                    await self._work(job_id, progress)
                finally:
                    tg.cancel_scope.cancel()
        except Exception as raised:
            exc = _leaf(raised)  # task groups wrap errors in (nested) exception groups
            if isinstance(exc, OCRError):
                log.warning("job %s failed: %s", job_id, exc)
                self.store.mark_failed(job_id, str(exc), exc.code)
            else:
                log.exception("job %s failed unexpectedly", job_id)
                self.store.mark_failed(
                    job_id, redact(f"internal error: {type(exc).__name__}: {exc}"), "internal_error"
                )
        finally:
            self._running.discard(job_id)
            with contextlib.suppress(Exception):
                self.store.release(job_id)
        return self.store.get(job_id)

    async def wait(self, job_id: str, progress: Progress | None = None, timeout: float | None = None) -> Job:
        """Wait for a job another task or process is working on; take it over if its worker dies."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = -1
        while True:
            job = self.store.get(job_id)
            if progress and job.pages_done != last:
                last = job.pages_done
                await progress(
                    job.pages_done, job.pages_total, f"{job.pages_done}/{job.pages_total or '?'} pages"
                )
            if job.finished:
                return job
            if job_id not in self._running and not self.store.lease_held_elsewhere(job):
                return await self.run(job_id, progress)
            if deadline is not None and time.monotonic() > deadline:
                return job
            await anyio.sleep(WAIT_POLL_SECONDS)

    async def _heartbeat(self, job_id: str) -> None:
        while True:
            await anyio.sleep(HEARTBEAT_SECONDS)
            self.store.renew(job_id)

    async def _work(self, job_id: str, progress: Progress | None) -> None:
        job = self.store.get(job_id)
        self.store.mark_running(job_id)
        if job.engine == "upstage":
            await self._work_upstage(job, progress)
        else:
            await self._work_local(job, progress)
        await self.finish(job_id)

    async def finish(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if (
            job.pages_total is not None
            and job.pages_done < job.pages_total
            and self.store.get_raw(job_id) is None
        ):
            missing = sorted(set(range(job.pages_total)) - self.store.done_indexes(job_id))
            numbers = [job.page_numbers[i] if job.page_numbers else i + 1 for i in missing]
            raise JobError(
                f"{len(missing)} pages could not be recognised: {_ranges(numbers)}",
                hint="Run the job again; finished pages are kept",
            )
        path = await self.write_result(job)
        self.store.mark_completed(job_id, result_path=str(path), model_version=job.model_version)
        return self.store.get(job_id)

    async def write_result(self, job: Job) -> Path:
        target = Path(job.result_path) if job.result_path else resolve_output(None, job.input_name, None)
        raw = self.store.get_raw(job.id)
        schema = job.options.get("schema")
        envelope = None if raw is not None or schema else self.store.get_envelope(job.id)
        if raw is not None:
            text = json.dumps(raw, ensure_ascii=False)
        elif schema:
            from ..output.schemas import convert

            text = json.dumps(convert(self.result(job.id), schema), ensure_ascii=False)
        elif envelope is not None and len(envelope.get("pages") or []) == job.pages_done:
            # one whole-document sync call: the API's response exactly as it came (all its fields)
            text = json.dumps(envelope, ensure_ascii=False)
        else:
            # Streamed page by page from the store: a 1,000-page result is never whole in memory.
            from ..output.writers import write_json

            meta = {"modelVersion": job.model_version or "", "numBilledPages": job.billed_pages}

            def stream() -> Path:
                pages = (page for _idx, _n, page in self.store.iter_pages(job.id))
                return write_json(pages, target, result_meta=meta)

            return await anyio.to_thread.run_sync(stream)
        await anyio.to_thread.run_sync(atomic_write_text, target, text)
        return target

    # -- the local engines -----------------------------------------------------------------------------
    async def _work_local(self, job: Job, progress: Progress | None) -> None:
        from .local_backend import model_version_for, run_local_pages

        info = await anyio.to_thread.run_sync(documents.inspect_document, Path(job.input_path))
        if info.sha256 != job.sha256 and job.input_path == job.source:
            raise JobError(
                f"{job.input_path} changed since the job was created", hint="Run it again with force"
            )
        numbers = job.page_numbers or list(range(1, (info.page_count or 1) + 1))
        position = {n: i for i, n in enumerate(numbers)}
        done = self.store.done_indexes(job.id)
        remaining = [n for i, n in enumerate(numbers) if i not in done]
        total = len(numbers)
        lang = job.options.get("lang")
        self.store.update(job.id, model_version=model_version_for(job.engine, lang), pages_total=total)

        async def on_page(number: int, page: Page) -> None:
            count = self.store.add_pages(job.id, [(position[number], number, page)])
            if progress:
                await progress(count, total, f"page {number} ({count}/{total})")

        if progress and done:
            await progress(len(done), total, f"resuming after {len(done)} finished pages")
        await run_local_pages(
            info, remaining, engine_name=job.engine, lang=lang, on_page=on_page, workers=self.settings.workers
        )

    # -- the Upstage API -------------------------------------------------------------------------------
    def _document_for(self, job: Job, indexes: Sequence[int] | None = None) -> tuple[Path | bytes, str]:
        """What to upload: the file itself, or a PDF of some of its pages (`indexes` into the job's pages)."""
        path = Path(job.input_path)
        if indexes is None and job.options.get("pages") is None:
            return path, job.input_name
        numbers = job.page_numbers or []
        chosen = [numbers[i] for i in indexes] if indexes is not None else numbers
        from ..upstage.client import pdf_subset

        return pdf_subset(path, chosen), f"{Path(job.input_name).stem}.pdf"

    async def _work_upstage(self, job: Job, progress: Progress | None) -> None:
        total = job.pages_total
        done = self.store.done_indexes(job.id)
        if self.store.get_raw(job.id) is not None or (total is not None and total and len(done) >= total):
            return  # everything was recognised before (a rerun after a failure while saving the result)
        if job.request_id is None and done:
            await self._upstage_missing(job, progress)  # carried over from a failed run: only the rest
            return
        small = total is None or total <= documents.MAX_PAGES_SYNC
        if job.request_id is None and small and not job.options.get("async"):
            await self._upstage_sync(job, None, progress)
            return
        if job.request_id is None:
            document, filename = self._document_for(job)
            try:
                request_id = await self.client().submit_async(
                    document, filename=filename, model=job.options["model"], schema=job.options.get("schema")
                )
            except BadRequestError as exc:
                # Async OCR is not confirmed by Upstage: fall back to sync calls of <= 100 pages.
                log.warning("async submit refused (%s); falling back to sync chunks", exc)
                await self._upstage_chunks(job, progress)
                return
            # Committed before anything else: a restart polls this id and never submits again.
            self.store.update(job.id, request_id=request_id)
            job = self.store.get(job.id)
        await self._upstage_follow(job, progress)

    async def _upstage_sync(self, job: Job, indexes: list[int] | None, progress: Progress | None) -> None:
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
        sizes = None if "apiVersion" in raw else self._page_sizes(job, None if whole else indexes)
        result = parse_result(raw, page_sizes=sizes)
        if whole and "apiVersion" in raw:
            self.store.set_envelope(job.id, raw)
        rows = []
        for i, page in enumerate(result.pages):
            if indexes is not None and i >= len(indexes):
                break  # never more pages than were sent
            idx = indexes[i] if indexes is not None else i
            number = job.page_numbers[idx] if job.page_numbers and idx < len(job.page_numbers) else idx + 1
            rows.append((idx, number, page))
        if job.pages_total is None:
            self.store.update(job.id, pages_total=len(result.pages))
        count = self.store.add_pages(job.id, rows, billed=result.numBilledPages)
        self.store.update(job.id, model_version=result.modelVersion)
        if progress:
            await progress(count, job.pages_total or count, f"{count} pages recognised")

    def _page_sizes(self, job: Job, indexes: list[int] | None) -> list[tuple[int, int]] | None:
        """Pixel sizes of the pages sent, to turn the other documented shape's 0..1 coordinates into pixels."""
        try:
            info = documents.inspect_document(Path(job.input_path))
            if info.kind == "office":
                return None
            sizes = documents.page_sizes(info, documents.DEFAULT_DPI)
        except OCRError:
            return None
        numbers = job.page_numbers or list(range(1, len(sizes) + 1))
        chosen = [numbers[i] for i in indexes] if indexes is not None else numbers
        return [sizes[n - 1] for n in chosen if 0 < n <= len(sizes)]

    async def _upstage_chunks(self, job: Job, progress: Progress | None) -> None:
        total = job.pages_total or 0
        for start in range(0, total, SYNC_CHUNK_PAGES):
            indexes = list(range(start, min(total, start + SYNC_CHUNK_PAGES)))
            if set(indexes) <= self.store.done_indexes(job.id):
                continue
            await self._upstage_sync(job, indexes, progress)

    async def _upstage_follow(self, job: Job, progress: Progress | None) -> None:
        from ..upstage.client import batch_pages

        assert job.request_id is not None
        total = job.pages_total or 0
        done_batches = self.store.stored_batch_ids(job.id)

        async def on_batch(meta: dict[str, Any], data: dict[str, Any]) -> None:
            start, end = int(meta["start_page"]), int(meta["end_page"])
            pages = batch_pages(data, start)
            rows = []
            for page in pages:
                idx = page.id
                number = (
                    job.page_numbers[idx] if job.page_numbers and idx < len(job.page_numbers) else idx + 1
                )
                rows.append((idx, number, page))
            billed = int(data.get("numBilledPages", len(pages)) or 0)
            self.store.store_batch(job.id, int(meta["id"]), start, end, rows, billed)
            if data.get("modelVersion"):
                self.store.update(job.id, model_version=str(data["modelVersion"]))
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
        await self._upstage_missing(job, progress, str(status.get("failure_message") or "failed batches"))

    async def _upstage_missing(
        self, job: Job, progress: Progress | None, why: str = "an earlier run"
    ) -> None:
        """Recognise the job's pages that are not stored yet with sync calls (<= 100 pages each)."""
        total = job.pages_total or 0
        missing = sorted(set(range(total)) - self.store.done_indexes(job.id))
        if missing:
            log.warning("job %s: %d pages missing (%s); re-running only those", job.id, len(missing), why)
            for start in range(0, len(missing), SYNC_CHUNK_PAGES):
                await self._upstage_sync(job, missing[start : start + SYNC_CHUNK_PAGES], progress)

    # -- reading jobs ----------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def list_jobs(self, limit: int = 20) -> list[Job]:
        return self.store.list(limit)

    def result(self, job_id: str) -> OCRResult:
        job = self.store.get(job_id)
        pages = [page for _, _, page in self.store.iter_pages(job_id)]
        if not pages and self.store.get_raw(job_id) is not None:
            raise JobError(
                f"job {job_id} kept the API's {job.options.get('schema')} response as is",
                hint=f"Read the result file {job.result_path}",
            )
        return assemble(pages, job.model_version or "", job.billed_pages)

    def page_indexes(self, job: Job, pages: str | None) -> list[int]:
        """Positions in the job's result for a 1-based range over the result's pages."""
        total = job.pages_total if job.pages_total is not None else job.pages_done
        numbers = documents.parse_page_range(pages, total) if total else None
        if numbers is None:
            return list(range(total or 0))
        return [n - 1 for n in numbers]

    def iter_pages(
        self, job_id: str, pages: str | None = None, *, words: bool = True
    ) -> Iterator[tuple[int, int, Page]]:
        """(idx, page_number, Page) of a page range; `words=False`: pages without words (much faster)."""
        job = self.store.get(job_id)
        return self.store.iter_pages(job_id, self.page_indexes(job, pages), words=words)

    async def resume_unfinished(self, progress: Progress | None = None) -> list[str]:
        """Run every unfinished job whose worker is gone (call in a task group). Returns their ids."""
        resumed = []
        for job in self.store.unfinished():
            if job.id in self._running or self.store.lease_held_elsewhere(job):
                continue
            resumed.append(job.id)
        for job_id in resumed:
            await self.run(job_id, progress)
        return resumed

    def unfinished_ids(self) -> list[str]:
        return [
            j.id
            for j in self.store.unfinished()
            if not self.store.lease_held_elsewhere(j) and j.id not in self._running
        ]


def _leaf(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups, the first OCRError among several, else `exc` itself."""
    inner = getattr(exc, "exceptions", None)
    if not inner:
        return exc
    leaves = [_leaf(e) for e in inner]
    return next((e for e in leaves if isinstance(e, OCRError)), leaves[0] if len(leaves) == 1 else exc)


def _all_pages(count: int | None) -> list[int] | None:
    return list(range(1, count + 1)) if count is not None else None


def _ranges(numbers: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(out)


def mean_confidence(result: OCRResult) -> float:
    words = [w.confidence for p in result.pages for w in p.words]
    return round(math.fsum(words) / len(words), 4) if words else 0.0
