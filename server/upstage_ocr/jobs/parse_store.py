"""Document Parse jobs in the job store: the same jobs, leases, limits and pages table as OCR.

A parse job is a job whose options say `kind: "parse"` (so its key differs from the OCR job of the same
file) and carry the parse options. Each finished page is one row of the pages table holding that page's
elements (`ParsePage`), committed as it arrives: progress, resume after a crash and page-range reads work as
for OCR. The document result is assembled from the pages at the end by `parsing.assemble`, the one rule of
every parse backend (element ids 0.. in page order, content joined from the elements), unless one sync call
parsed the whole document: then the API's response is written back as it came.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, Field

from ..errors import JobError
from ..fsutil import atomic_write_text, resolve_output
from ..parse_models import Element, ParseResult
from ..upstage.parse import ParseOptions
from .job import Job

if TYPE_CHECKING:
    from .store import JobStore

PARSE_KIND = "parse"
RESULT_SUFFIX = ".parse.json"


class ParsePage(BaseModel):
    """One stored page of a parse job: its elements in reading order (pages absolute, 1-based)."""

    elements: list[Element] = Field(default_factory=list)


def is_parse(job: Job) -> bool:
    return job.options.get("kind") == PARSE_KIND


def require_ocr(job: Job) -> None:
    """OCR readers (pages with words, search, OCR exports) refuse a parse job with a one-line error."""
    if is_parse(job):
        raise JobError(
            f"job {job.id} is a parse job, not an OCR job",
            hint="Read it with fetch_parse_pages or export it as md, html or csv",
        )


def parse_options(job: Job) -> ParseOptions:
    return ParseOptions.from_identity(job.options.get("parse") or {})


def iter_parse_pages(
    store: JobStore, job_id: str, indexes: Sequence[int] | None = None
) -> Iterator[tuple[int, int, list[Element]]]:
    """(idx, page_number, elements) of the stored pages, in order."""
    for idx, number, data in store.iter_page_data(job_id, indexes):
        yield idx, number, ParsePage.model_validate_json(data).elements


def stored_parse_result(store: JobStore, job_id: str, indexes: Sequence[int] | None = None) -> ParseResult:
    """A parse job's stored pages (all, or those at `indexes`) as one Document Parse result."""
    job = store.get(job_id)
    if not is_parse(job):
        raise JobError(f"job {job_id} is an OCR job, not a parse job", hint="Read it with fetch_ocr_pages")
    from ..parsing import assemble  # the one assembly rule of every parse backend

    rows = list(iter_parse_pages(store, job_id, indexes))
    return assemble(
        [elements for _idx, _n, elements in rows],
        parse_options(job).output_formats,
        model=job.model_version or "",
        pages=len(rows),
    )


def whole_envelope(store: JobStore, job: Job) -> dict[str, Any] | None:
    """The API's own response when one sync call parsed the whole document (and every page is stored)."""
    envelope = store.get_envelope(job.id)
    if envelope is None or "elements" not in envelope:
        return None
    total = job.pages_total if job.pages_total is not None else job.pages_done
    return envelope if job.pages_done == total else None


def job_parse_result(store: JobStore, job: Job) -> ParseResult:
    """The whole result of a parse job: the API's own response when it came in one piece, else assembled."""
    envelope = whole_envelope(store, job)
    return ParseResult.model_validate(envelope) if envelope else stored_parse_result(store, job.id)


async def write_parse_result(store: JobStore, job: Job) -> Path:
    """Write the job's Document Parse JSON (atomically) where the job says, and return its path."""
    target = (
        Path(job.result_path)
        if job.result_path
        else resolve_output(None, job.input_name, None, RESULT_SUFFIX)
    )
    data = whole_envelope(store, job) or stored_parse_result(store, job.id).to_json_dict()
    text = json.dumps(data, ensure_ascii=False)
    await anyio.to_thread.run_sync(atomic_write_text, target, text)
    return target
