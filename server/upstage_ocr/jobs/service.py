"""What both front doors (CLI and MCP server) call: submit, run, wait for, inspect and read OCR jobs.

`OCRService` owns the job store, one Upstage client per process and the runner. `submit` checks the input and
finds or creates the job (no work, nothing uploaded); `run` hands it to the runner (`runner.py`), which works
it to its end under a lease with the backend for its engine (`local_backend.py`, `upstage_backend.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import (
    NO_KEY_HINT,
    AuthenticationError,
    ConfigError,
    redact,
)
from ..fsutil import resolve_output
from ..models import OCRResult, Page
from ..settings import Settings
from ..vocab import ENGINES, OCR_MODES, SCHEMAS
from .job import Job, job_key
from .pages import parse_page_range, select_pages
from .runner import Backend, Progress, Runner, stored_result, write_result
from .store import JobStore

if TYPE_CHECKING:
    import httpx

    from ..inputs.documents import DocumentInfo
    from ..upstage.client import UpstageClient


@dataclass
class Submission:
    job: Job
    reused: bool


@dataclass
class Prepared:
    """A checked input: as given (`info`), as worked on (`work_info`: an office file converted to PDF for the
    local engines), its pages (None: unknown count) and the user's page selection (None: every page)."""

    info: DocumentInfo
    work_info: DocumentInfo
    page_numbers: list[int] | None
    selection: list[int] | None

    @property
    def total(self) -> int | None:
        return len(self.page_numbers) if self.page_numbers is not None else None


class OCRService:
    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.store = JobStore(settings.home)
        self._transport = transport
        self._client: UpstageClient | None = None
        self.runner = Runner(self.store, self._backend_for)

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
        ocr: str | None = None,
    ) -> Submission:
        """Check the input and find or create its job. Nothing is recognised or uploaded here.

        `use_async` sends even a small document through the Upstage async API (no 3-minute sync timeout);
        it does not change the result, so it is not part of the job's identity. `ocr` ("auto", the default:
        PDF pages with a trustworthy text layer are read from it; "force": every page is OCR'd) is part of a
        local job's identity; the Upstage OCR API has no such option and OCRs every page whatever it says.
        """
        if schema is not None and schema not in SCHEMAS:
            raise ConfigError(
                f"unknown schema {schema!r}", hint=f"Choose one of: {', '.join(SCHEMAS)} (or none)"
            )
        if ocr is not None and ocr not in OCR_MODES:
            raise ConfigError(f"unknown ocr mode {ocr!r}", hint=f"Choose one of: {', '.join(OCR_MODES)}")
        engine_name = self.resolve_engine(engine)
        doc = await self.prepare(source, engine_name, pages)
        if engine_name == "upstage":
            from .upstage_backend import check_limits

            check_limits(doc.info, doc.page_numbers)
        options: dict[str, Any] = {"engine": engine_name, "schema": schema, "pages": doc.selection}
        if engine_name == "upstage":
            options["model"] = model or self.settings.model
        else:
            options["lang"] = lang or self.settings.lang
            options["ocr"] = ocr or "auto"
        extra = {"async": True} if use_async and engine_name == "upstage" else {}
        return await self.find_or_create(source, doc, options, output, force=force, unkeyed=extra)

    async def prepare(self, source: str, engine_name: str, pages: str | None) -> Prepared:
        """The input checked (fetched, inspected, an office file converted for local engines) and its pages."""
        info, work_info = await self._inspect(source, engine_name)
        page_numbers, selected = select_pages(pages, work_info.page_count)
        return Prepared(info, work_info, page_numbers, selected)

    async def find_or_create(
        self,
        source: str,
        doc: Prepared,
        options: dict[str, Any],
        output: str | None,
        *,
        force: bool = False,
        unkeyed: dict[str, Any] | None = None,
        suffix: str = ".ocr.json",
    ) -> Submission:
        """The job for `doc` with `options` (its key), reused unless `force`; `unkeyed` options are stored
        with a new job but left out of its key (they do not change the result)."""
        info = doc.info
        target = resolve_output(
            output, info.name, info.path, suffix
        )  # a bad path fails before any job exists
        # One transaction finds or creates the job: two processes submitting the same file share one job.
        job, created = self.store.find_or_create(
            key=job_key(info.sha256, options),
            input_name=info.name,
            input_path=str(doc.work_info.path),
            source=redact(source),
            sha256=info.sha256,
            size=info.size,
            options={**options, **(unkeyed or {})},
            engine=str(options["engine"]),
            pages_total=doc.total,
            page_numbers=doc.page_numbers,
            reuse=not force,
        )
        if created or output is not None or job.result_path is None:
            self.store.update(job.id, result_path=str(target))
            if not created and job.status == "completed":
                await write_result(self.store, self.store.get(job.id))
        return Submission(self.store.get(job.id), reused=not created)

    async def _inspect(self, source: str, engine_name: str) -> tuple[DocumentInfo, DocumentInfo]:
        """(the input, what the engine reads): an office file becomes its PDF for the local engines.

        The input is hashed once, here; its conversion (kept by content hash) is not hashed at all.
        """
        from ..inputs import documents, office

        path = await self.fetch_source(source)
        info = await anyio.to_thread.run_sync(documents.inspect_document, path)
        if engine_name == "upstage" or info.kind != "office":
            return info, info
        pdf = await anyio.to_thread.run_sync(office.converted_pdf, info, self.office_cache)
        work_info = await anyio.to_thread.run_sync(partial(documents.inspect_document, pdf, digest=False))
        return info, work_info

    @property
    def office_cache(self) -> Path:
        """Where office files are kept converted to PDF, one folder per content hash."""
        return self.settings.home / "converted"

    # -- run -------------------------------------------------------------------------------------------
    def _backend_for(self, job: Job) -> Backend:
        from .parse_store import is_parse

        if is_parse(job):
            from .parse_backends import parse_backend

            return parse_backend(self, job)
        if job.engine == "upstage":
            from .upstage_backend import UpstageBackend

            return UpstageBackend(self.store, self.client)
        from .local_backend import LocalBackend

        return LocalBackend(self.store, self.settings.workers, self.office_cache)

    async def run(self, job_id: str, progress: Progress | None = None) -> Job:
        """Work the job to its end in this task (or wait while another process does). Returns the final job."""
        return await self.runner.run(job_id, progress)

    async def wait(self, job_id: str, progress: Progress | None = None, timeout: float | None = None) -> Job:
        """Wait for a job another task or process is working on; take it over if its worker dies."""
        return await self.runner.wait(job_id, progress, timeout)

    def unfinished_ids(self) -> list[str]:
        """Unfinished jobs whose worker is gone: the ones to resume."""
        return self.runner.unfinished_ids()

    # -- reading jobs ----------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def list_jobs(self, limit: int = 20) -> list[Job]:
        return self.store.list(limit)

    def result(self, job_id: str) -> OCRResult:
        return stored_result(self.store, job_id)

    def page_indexes(self, job: Job, pages: str | None) -> list[int]:
        """Positions in the job's result for a 1-based range over the result's pages."""
        total = job.pages_total if job.pages_total is not None else job.pages_done
        numbers = parse_page_range(pages, total) if total else None
        if numbers is None:
            return list(range(total or 0))
        return [n - 1 for n in numbers]

    def iter_pages(
        self, job_id: str, pages: str | None = None, *, words: bool = True
    ) -> Iterator[tuple[int, int, Page]]:
        """(idx, page_number, Page) of a page range; `words=False`: pages without words (much faster)."""
        from .parse_store import require_ocr

        job = self.store.get(job_id)
        require_ocr(job)
        return self.store.iter_pages(job_id, self.page_indexes(job, pages), words=words)
