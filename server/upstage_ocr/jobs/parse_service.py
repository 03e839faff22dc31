"""Submitting and reading Document Parse jobs: the parse side of `OCRService` (same store, runner, limits).

`submit_parse` checks the input exactly as OCR does (fetch, inspect, office conversion for local engines, page
selection) and finds or creates a job whose key holds `kind: "parse"`, the engine and the parse options, so
a parse is never run (or paid for) twice and never mistaken for the OCR job of the same file. The runner
works it with the parse backends (`parse_backends.py`) and writes `<stem>.parse.json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import JobError
from ..parse_models import OUTPUT_FORMATS, Element, ParseResult
from ..upstage.parse import ParseOptions, check_limits
from .parse_store import PARSE_KIND, RESULT_SUFFIX, is_parse, iter_parse_pages, job_parse_result
from .upstage_backend import check_subset

if TYPE_CHECKING:
    from .job import Job
    from .service import OCRService, Submission

DEFAULT_FORMATS: tuple[str, ...] = OUTPUT_FORMATS
"""What the front doors ask for: all three (Markdown for agents, HTML for tables, text for search)."""


async def submit_parse(
    service: OCRService,
    source: str,
    *,
    engine: str | None = None,
    pages: str | None = None,
    options: ParseOptions | None = None,
    model: str | None = None,
    lang: str | None = None,
    output: str | None = None,
    force: bool = False,
) -> Submission:
    """Check the input and find or create its parse job. Nothing is parsed or uploaded here."""
    options = options or ParseOptions(output_formats=DEFAULT_FORMATS)
    engine_name = service.resolve_engine(engine)
    doc = await service.prepare(source, engine_name, pages)
    job_options: dict[str, Any] = {
        "kind": PARSE_KIND,
        "engine": engine_name,
        "pages": doc.selection,
        "parse": options.identity(),
    }
    if engine_name == "upstage":
        check_limits(service.settings, doc.info.name, doc.total, doc.info.size)
        check_subset(doc.info, doc.page_numbers)
        job_options["model"] = model or service.settings.parse_model
    else:
        job_options["lang"] = lang or service.settings.lang
    return await service.find_or_create(source, doc, job_options, output, force=force, suffix=RESULT_SUFFIX)


def parse_job(service: OCRService, job_id: str) -> Job:
    """The job, which must be a parse job (one-line error otherwise)."""
    job = service.get(job_id)
    if not is_parse(job):
        raise JobError(
            f"job {job_id} is an OCR job, not a parse job",
            hint="Read OCR jobs with fetch_ocr_pages (CLI: upstage-ocr pages)",
        )
    return job


def parse_result(service: OCRService, job_id: str) -> ParseResult:
    """The whole result of a parse job (as written to its result file)."""
    return job_parse_result(service.store, parse_job(service, job_id))


def iter_parsed_pages(
    service: OCRService, job_id: str, pages: str | None = None
) -> Iterator[tuple[int, int, list[Element]]]:
    """(idx, page_number, elements) of a 1-based page range over the job's result (default all)."""
    job = parse_job(service, job_id)
    return iter_parse_pages(service.store, job_id, service.page_indexes(job, pages))
