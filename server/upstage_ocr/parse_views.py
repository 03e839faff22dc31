"""What the front doors show of parse jobs: the `parse_document` answer and page-range reads of the content."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from .views import DEFAULT_FETCH_PAGES, MAX_TEXT_CHARS, call_base
from .vocab import JobStatus

if TYPE_CHECKING:
    from .jobs.job import Job
    from .jobs.service import OCRService
    from .parse_models import Element

ContentFormat = Literal["markdown", "html", "text"]
PAGE_JOINS = {"markdown": "\n\n", "html": "\n", "text": "\n"}


class ParseDocumentResult(BaseModel):
    job_id: str = Field(description="Job id for get_ocr_status / fetch_parse_pages / export_ocr")
    status: JobStatus
    engine: str = Field(description="upstage (Document Parse API) or a local engine")
    page_count: int | None = Field(description="Pages in the job (after any page selection)")
    pages_done: int
    markdown: str | None = Field(
        None, description="The document as Markdown (completed small jobs; truncated if very long)"
    )
    markdown_truncated: bool = False
    elements: int | None = Field(None, description="How many layout elements were found")
    tables: int | None = Field(None, description="How many of them are tables")
    result_path: str | None = Field(
        None,
        description="Absolute path of the result JSON (elements, html/markdown/text): show it to the user",
    )
    reused: bool = Field(False, description="True when an earlier identical job's result was returned")
    error: str | None = None
    next_step: str = Field(description="What to call next")


class ElementOut(BaseModel):
    id: int = Field(
        description="Element id within the page (the result file numbers them across the document)"
    )
    category: str
    content: str
    coordinates: list[list[float]] = Field(description="Four [x, y] vertices relative to the page (0..1)")


class ParsedPageOut(BaseModel):
    page: int = Field(description="1-based page number in the job's result")
    source_page: int = Field(description="1-based page number in the input document")
    content: str = Field(description="The page's elements in reading order, in the requested format")
    elements: list[ElementOut] | None = None


class FetchParsePagesResult(BaseModel):
    job_id: str
    status: JobStatus
    format: ContentFormat
    pages_total: int | None
    pages_done: int
    pages: list[ParsedPageOut]
    next_pages: str | None = Field(None, description="The next range to fetch, if any")


def _content_of(element: Element, fmt: str) -> str:
    return str(getattr(element.content, fmt) or "")


def fetch_parse_pages(
    service: OCRService, job_id: str, pages: str | None, fmt: ContentFormat, include_elements: bool
) -> FetchParsePagesResult:
    """A page range of a parse job (default the first DEFAULT_FETCH_PAGES) and the range to fetch next."""
    from .jobs.parse_service import iter_parsed_pages, parse_job
    from .output.parse_exports import require_format

    job = parse_job(service, job_id)
    require_format(job, fmt)
    total = job.pages_total if job.pages_total is not None else job.pages_done
    spec = pages or (f"1-{min(DEFAULT_FETCH_PAGES, total)}" if total else None)
    rows = list(iter_parsed_pages(service, job_id, spec)) if total else []
    out = []
    for idx, number, elements in rows:
        parts = [_content_of(e, fmt) for e in elements]
        listed = [
            ElementOut(
                id=i,
                category=e.category,
                content=_content_of(e, fmt),
                coordinates=[[v.x, v.y] for v in e.coordinates],
            )
            for i, e in enumerate(elements)
        ]
        out.append(
            ParsedPageOut(
                page=idx + 1,
                source_page=number,
                content=PAGE_JOINS[fmt].join(p for p in parts if p),
                elements=listed if include_elements else None,
            )
        )
    last = max((p.page for p in out), default=0)
    step = DEFAULT_FETCH_PAGES if pages is None else max(len(out), 1)
    next_pages = f"{last + 1}-{min(total, last + step)}" if total and out and last < total else None
    return FetchParsePagesResult(
        job_id=job.id,
        status=job.status,
        format=fmt,
        pages_total=job.pages_total,
        pages_done=job.pages_done,
        pages=out,
        next_pages=next_pages,
    )


def parse_document_result(service: OCRService, job: Job, reused: bool) -> ParseDocumentResult:
    """What `parse_document` returns: a completed job's Markdown, else where it stands and what to call next."""
    base = call_base(job, reused)
    if job.status == "completed":
        from .jobs.parse_service import parse_result

        result = parse_result(service, job.id)
        markdown = result.content.markdown or None
        truncated = markdown is not None and len(markdown) > MAX_TEXT_CHARS
        if markdown is not None and truncated:
            markdown = markdown[:MAX_TEXT_CHARS]
        step = "Show result_path to the user." + (
            " Use fetch_parse_pages for the rest of the Markdown." if truncated else ""
        )
        return ParseDocumentResult(
            **base,
            markdown=markdown,
            markdown_truncated=truncated,
            elements=len(result.elements),
            tables=sum(1 for e in result.elements if e.category == "table"),
            result_path=job.result_path,
            next_step=step,
        )
    if job.status == "failed":
        return ParseDocumentResult(
            **base, next_step="Fix the problem named in error, then call parse_document again."
        )
    return ParseDocumentResult(
        **base,
        next_step="Poll get_ocr_status with job_id every few seconds; read finished pages with fetch_parse_pages.",
    )
