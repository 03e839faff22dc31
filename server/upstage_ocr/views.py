"""What the two front doors show of jobs, pages and search hits: one set of view models, built in one place.

The MCP tools return these models as structured output; the CLI prints the same models as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .errors import OCRError
from .vocab import JobStatus

if TYPE_CHECKING:
    from .jobs.job import Job
    from .jobs.service import OCRService
    from .models import OCRResult, Page, Vertex
    from .output.search import Hit

DEFAULT_FETCH_PAGES = 10
MAX_TEXT_CHARS = 60_000


class OcrDocumentResult(BaseModel):
    job_id: str = Field(
        description="Job id for get_ocr_status / fetch_ocr_pages / export_ocr / search_ocr_text"
    )
    status: JobStatus
    engine: str = Field(description="upstage (cloud API) or a local engine")
    page_count: int | None = Field(description="Pages in the job (after any page selection)")
    pages_done: int
    mean_confidence: float | None = Field(None, description="Mean word confidence 0..1 (completed jobs)")
    text: str | None = Field(
        None, description="The recognised text (completed small jobs; truncated if very long)"
    )
    text_truncated: bool = False
    result_path: str | None = Field(None, description="Absolute path of the result JSON: show it to the user")
    reused: bool = Field(False, description="True when an earlier identical job's result was returned")
    error: str | None = None
    next_step: str = Field(description="What to call next")


class BatchState(BaseModel):
    batch_id: int
    start_page: int
    end_page: int
    status: str
    failure: str | None = None


class JobSummary(BaseModel):
    job_id: str
    status: JobStatus
    kind: str = Field("ocr", description="ocr (ocr_document) or parse (parse_document)")
    input: str
    engine: str
    pages_done: int
    pages_total: int | None
    created_at: float
    result_path: str | None = None


class OcrStatusResult(JobSummary):
    """A job's summary with where its work stands."""

    request_id: str | None = Field(None, description="The Upstage async request id, if any")
    batches: list[BatchState] = Field(
        default_factory=list, description="Upstage async batches (10 pages each)"
    )
    error: str | None = None
    updated_at: float


class WordOut(BaseModel):
    id: int
    text: str
    confidence: float
    box: list[list[int | float]] = Field(description="Four [x, y] pixel vertices, clockwise from top-left")


class PageOut(BaseModel):
    page: int = Field(description="1-based page number in the job's result")
    source_page: int = Field(description="1-based page number in the input document")
    text: str
    confidence: float
    width: int
    height: int
    words: list[WordOut] | None = None


class FetchPagesResult(BaseModel):
    job_id: str
    status: JobStatus
    pages_total: int | None
    pages_done: int
    pages: list[PageOut]
    next_pages: str | None = Field(None, description="The next range to fetch, if any")


class JobList(BaseModel):
    jobs: list[JobSummary]


class ExportResult(BaseModel):
    job_id: str
    format: str
    paths: list[str] = Field(description="Absolute paths of the written files")


class SearchHitOut(BaseModel):
    page: int
    text: str
    line: str
    score: float
    confidence: float
    box: list[list[int | float]]


class SearchResult(BaseModel):
    job_id: str
    query: str
    hits: list[SearchHitOut]


def _result_path(job: Job) -> str | None:
    return job.result_path if job.status == "completed" else None


def job_status(job: Job) -> OcrStatusResult:
    return OcrStatusResult(
        job_id=job.id,
        status=job.status,
        kind=str(job.options.get("kind") or "ocr"),
        input=job.input_name,
        engine=job.engine,
        pages_done=job.pages_done,
        pages_total=job.pages_total,
        request_id=job.request_id,
        batches=[BatchState(**b) for b in job.batches],
        error=job.error,
        result_path=_result_path(job),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def job_summary(job: Job) -> JobSummary:
    return JobSummary.model_validate(job_status(job).model_dump(include=set(JobSummary.model_fields)))


def box(vertices: Iterable[Vertex]) -> list[list[int | float]]:
    return [[v.x, v.y] for v in vertices]


def page_view(idx: int, number: int, page: Page, *, words: bool) -> PageOut:
    return PageOut(
        page=idx + 1,
        source_page=number,
        text=page.text,
        confidence=page.confidence,
        width=page.width,
        height=page.height,
        words=[
            WordOut(id=w.id, text=w.text, confidence=w.confidence, box=box(w.boundingBox.vertices))
            for w in page.words
        ]
        if words
        else None,
    )


def fetch_pages(service: OCRService, job_id: str, pages: str | None, include_words: bool) -> FetchPagesResult:
    """A page range of a job (default the first DEFAULT_FETCH_PAGES) and the range to fetch next."""
    job = service.get(job_id)
    total = job.pages_total if job.pages_total is not None else job.pages_done
    spec = pages or (f"1-{min(DEFAULT_FETCH_PAGES, total)}" if total else None)
    rows = list(service.iter_pages(job_id, spec, words=include_words)) if total else []
    out = [page_view(idx, number, page, words=include_words) for idx, number, page in rows]
    last = max((p.page for p in out), default=0)
    if total and pages is None and last < total:
        next_pages: str | None = f"{last + 1}-{min(total, last + DEFAULT_FETCH_PAGES)}"
    elif total and out and last < total:
        next_pages = f"{last + 1}-{min(total, last + len(out))}"
    else:
        next_pages = None
    return FetchPagesResult(
        job_id=job.id,
        status=job.status,
        pages_total=job.pages_total,
        pages_done=job.pages_done,
        pages=out,
        next_pages=next_pages,
    )


def search_result(job_id: str, query: str, hits: Sequence[Hit]) -> SearchResult:
    return SearchResult(
        job_id=job_id,
        query=query,
        hits=[
            SearchHitOut(
                page=h.page,
                text=h.text,
                line=h.line,
                score=h.score,
                confidence=h.confidence,
                box=box(h.vertices),
            )
            for h in hits
        ],
    )


def mean_confidence(result: OCRResult) -> float:
    words = [w.confidence for p in result.pages for w in p.words]
    return round(math.fsum(words) / len(words), 4) if words else 0.0


def call_base(job: Job, reused: bool) -> dict[str, Any]:
    """The fields every document tool's answer starts with (`ocr_document`, `parse_document`)."""
    return {
        "job_id": job.id,
        "status": job.status,
        "engine": job.engine,
        "page_count": job.pages_total,
        "pages_done": job.pages_done,
        "reused": reused,
        "error": job.error,
    }


def document_result(service: OCRService, job: Job, reused: bool) -> OcrDocumentResult:
    """What `ocr_document` returns: the text of a completed job, else where it stands and what to call next."""
    base = call_base(job, reused)
    if job.status == "completed":
        text: str | None = None
        conf: float | None = None
        truncated = False
        try:
            result = service.result(job.id)
            text, conf = result.text, mean_confidence(result)
            if len(text) > MAX_TEXT_CHARS:
                text, truncated = text[:MAX_TEXT_CHARS], True
        except OCRError:
            pass  # schema results kept as the API returned them: the file has everything
        step = "Show result_path to the user." + (
            " Use fetch_ocr_pages for the rest of the text." if truncated else ""
        )
        return OcrDocumentResult(
            **base,
            text=text,
            text_truncated=truncated,
            mean_confidence=conf,
            result_path=job.result_path,
            next_step=step,
        )
    if job.status == "failed":
        return OcrDocumentResult(
            **base, next_step="Fix the problem named in error, then call ocr_document again."
        )
    return OcrDocumentResult(
        **base,
        next_step="Poll get_ocr_status with job_id every few seconds; read finished pages with fetch_ocr_pages.",
    )
