"""Working a job to its end: take its lease, keep it alive, hand the job to its backend, finish the result.

A job is worked on by one task of one process at a time (the lease in the store). `run` works it, or watches
the task or process that holds it and takes over when that worker dies; `wait` only watches, up to a timeout.
The backend (local engines or the Upstage API) commits pages to the store as they arrive; `finish` checks that
none is missing and writes the result file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import anyio

from ..errors import JobError, OCRError, redact
from ..fsutil import atomic_write_text, resolve_output
from ..models import OCRResult, assemble
from .job import Job
from .pages import format_page_ranges
from .store import JobStore

log = logging.getLogger("upstage_ocr")

Progress = Callable[[int, int | None, str], Awaitable[None]]
HEARTBEAT_SECONDS = 10.0
WAIT_POLL_SECONDS = 0.5


class Backend(Protocol):
    """Recognises a job's pages that are not stored yet, committing each to the store as it arrives."""

    async def work(self, job: Job, progress: Progress | None) -> None: ...


class Runner:
    def __init__(self, store: JobStore, backend_for: Callable[[Job], Backend]):
        self.store = store
        self._backend_for = backend_for
        self._running: set[str] = set()

    async def run(self, job_id: str, progress: Progress | None = None) -> Job:
        """Work the job to its end in this task (or wait while another process does). Returns the final job."""
        while True:
            job = self.store.get(job_id)
            if job.finished:
                return job
            if job_id not in self._running and self.store.claim(job_id):
                return await self._run_leased(job_id, progress)
            job, _free = await self._watch(job_id, progress, None)

    async def wait(self, job_id: str, progress: Progress | None = None, timeout: float | None = None) -> Job:
        """Wait for a job another task or process is working on; take it over if its worker dies."""
        job, free = await self._watch(job_id, progress, timeout)
        return await self.run(job_id, progress) if free else job

    def unfinished_ids(self) -> list[str]:
        """Unfinished jobs nobody is working on (their worker died): the ones to resume."""
        return [j.id for j in self.store.unfinished() if not self._held(j)]

    def _held(self, job: Job) -> bool:
        return job.id in self._running or self.store.lease_held_elsewhere(job)

    async def _watch(self, job_id: str, progress: Progress | None, timeout: float | None) -> tuple[Job, bool]:
        """(job, free): returns when the job finished, its lease became free (True), or `timeout` passed."""
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
                return job, False
            if not self._held(job):
                return job, True
            if deadline is not None and time.monotonic() > deadline:
                return job, False
            await anyio.sleep(WAIT_POLL_SECONDS)

    async def _run_leased(self, job_id: str, progress: Progress | None) -> Job:
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

    async def _heartbeat(self, job_id: str) -> None:
        while True:
            await anyio.sleep(HEARTBEAT_SECONDS)
            self.store.renew(job_id)

    async def _work(self, job_id: str, progress: Progress | None) -> None:
        job = self.store.get(job_id)
        self.store.mark_running(job_id)
        await self._backend_for(job).work(job, progress)
        await self.finish(job_id)

    async def finish(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if (
            job.pages_total is not None
            and job.pages_done < job.pages_total
            and self.store.get_raw(job_id) is None
        ):
            missing = sorted(set(range(job.pages_total)) - self.store.done_indexes(job_id))
            numbers = [job.page_number(i) for i in missing]
            raise JobError(
                f"{len(missing)} pages could not be recognised: {format_page_ranges(numbers)}",
                hint="Run the job again; finished pages are kept",
            )
        path = await write_result(self.store, job)
        self.store.mark_completed(job_id, result_path=str(path), model_version=job.model_version)
        return self.store.get(job_id)


def stored_result(store: JobStore, job_id: str) -> OCRResult:
    """A job's stored pages assembled into one Upstage-shaped result."""
    from .parse_store import require_ocr

    job = store.get(job_id)
    require_ocr(job)
    pages = [page for _, _, page in store.iter_pages(job_id)]
    if not pages and store.get_raw(job_id) is not None:
        raise JobError(
            f"job {job_id} kept the API's {job.options.get('schema')} response as is",
            hint=f"Read the result file {job.result_path}",
        )
    return assemble(pages, job.model_version or "", job.billed_pages)


async def write_result(store: JobStore, job: Job) -> Path:
    """Write the job's result JSON (atomically) where the job says, and return its path."""
    from .parse_store import is_parse, write_parse_result

    if is_parse(job):
        return await write_parse_result(store, job)
    target = Path(job.result_path) if job.result_path else resolve_output(None, job.input_name, None)
    raw = store.get_raw(job.id)
    schema = job.options.get("schema")
    envelope = None if raw is not None or schema else store.get_envelope(job.id)
    if raw is not None:
        text = json.dumps(raw, ensure_ascii=False)
    elif schema:
        from ..output.schemas import convert

        text = json.dumps(convert(stored_result(store, job.id), schema), ensure_ascii=False)
    elif envelope is not None and len(envelope.get("pages") or []) == job.pages_done:
        # one whole-document sync call: the API's response exactly as it came (all its fields)
        text = json.dumps(envelope, ensure_ascii=False)
    else:
        # Streamed page by page from the store: a 1,000-page result is never whole in memory.
        from pydantic_core import from_json

        from ..output.writers import write_json

        meta = {"modelVersion": job.model_version or "", "numBilledPages": job.billed_pages}

        def stream() -> Path:
            # (only keys cached: a page's values rarely repeat, and caching them costs a third more)
            pages = (from_json(data, cache_strings="keys") for _idx, _n, data in store.iter_page_data(job.id))
            return write_json(pages, target, result_meta=meta)

        return await anyio.to_thread.run_sync(stream)
    await anyio.to_thread.run_sync(atomic_write_text, target, text)
    return target


def _leaf(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups, the first OCRError among several, else `exc` itself."""
    inner = getattr(exc, "exceptions", None)
    if not inner:
        return exc
    leaves = [_leaf(e) for e in inner]
    return next((e for e in leaves if isinstance(e, OCRError)), leaves[0] if len(leaves) == 1 else exc)
