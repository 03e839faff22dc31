"""The backends of parse jobs: Document Parse on the Upstage API, and the local parse engine.

`UpstageParseBackend` is the OCR backend's flow (`upstage_backend.py`: one sync call for small documents; else
one async submit whose request id is committed first, batches stored as they are downloaded, whatever failed
re-run alone with sync calls) with Document Parse calls and responses, and its own sync page limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..parse_models import Element
from ..upstage.parse import batch_elements, load, parse_sync, submit_parse
from .job import Job
from .parse_store import ParsePage, parse_options
from .runner import Backend, Progress
from .store import JobStore
from .upstage_backend import UpstageBackend

if TYPE_CHECKING:
    from pathlib import Path

    from ..upstage.client import UpstageClient
    from .service import OCRService


def parse_backend(service: OCRService, job: Job) -> Backend:
    if job.engine == "upstage":
        return UpstageParseBackend(service.store, service.client, service.settings.parse_sync_max_pages)
    from .parse_local_backend import LocalParseBackend

    return LocalParseBackend(service.store, service.settings.workers, service.office_cache)


def page_rows(
    job: Job, elements: Sequence[Element], indexes: Sequence[int], first_page: int = 1
) -> list[tuple[int, int, BaseModel]]:
    """Store rows for the pages sent: response page `first_page + k` is the job's page at `indexes[k]`.

    Every page sent gets a row (a blank page has no elements but is done); elements on pages outside what
    was sent are dropped (never more pages than were sent). Elements carry the document's page numbers.
    """
    by_page: dict[int, list[Element]] = {}
    for element in elements:
        by_page.setdefault(element.page - first_page, []).append(element)
    rows: list[tuple[int, int, BaseModel]] = []
    for k, idx in enumerate(indexes):
        number = job.page_number(idx)
        mine = [e.model_copy(update={"page": number}) for e in by_page.get(k, [])]
        rows.append((idx, number, ParsePage(elements=mine)))
    return rows


class UpstageParseBackend(UpstageBackend):
    async_fallback = False  # async Document Parse is documented: a refused submit is a real error

    def __init__(self, store: JobStore, client: Callable[[], UpstageClient], sync_pages: int):
        super().__init__(store, client)
        self.sync_pages = sync_pages

    async def _submit(self, job: Job, document: Path | bytes, filename: str) -> str:
        return await submit_parse(
            self.client(), document, filename=filename, options=parse_options(job), model=job.options["model"]
        )

    async def _sync(self, job: Job, indexes: list[int] | None, progress: Progress | None) -> None:
        """One sync parse of the job's pages at `indexes` (None: the whole selection)."""
        total = job.pages_total
        whole = indexes is None or (total is not None and indexes == list(range(total)))
        document, filename = self._document_for(job, None if whole else indexes)
        raw = await parse_sync(
            self.client(), document, filename=filename, options=parse_options(job), model=job.options["model"]
        )
        result = load(raw, "the parse request")
        if total is None:  # a file whose pages only the API counts (office files on this engine)
            total = result.usage.pages or max((e.page for e in result.elements), default=1)
            self.store.update(job.id, pages_total=total)
        sent = list(range(total)) if whole else list(indexes or [])
        if whole and job.options.get("pages") is None:
            self.store.set_envelope(job.id, raw)  # written back as it came when every page is stored
        rows = page_rows(job, result.elements, sent)
        count = self.store.add_pages(job.id, rows, billed=result.usage.pages or len(rows))
        self.store.update(job.id, model_version=result.model)
        if progress:
            await progress(count, total, f"{count} pages parsed")

    def _batch_rows(
        self, job: Job, meta: dict[str, Any], data: dict[str, Any]
    ) -> tuple[Sequence[tuple[int, int, BaseModel]], int, str | None]:
        start, end = int(meta["start_page"]), int(meta["end_page"])
        elements = batch_elements(data, start, end)
        rows = page_rows(job, elements, list(range(start - 1, end)), first_page=start)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        billed = int((usage or {}).get("pages") or len(rows))
        version = str(data.get("model") or meta.get("model") or "") or None
        return rows, billed, version
