"""The MCP tools of Document Parse: `parse_document` and `fetch_parse_pages` (jobs: get_ocr_status, list_ocr_jobs,
export_ocr work on parse jobs too)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from .mcp_state import _state, _tool_errors, run_or_start
from .parse_models import Category, OutputFormat
from .parse_views import (
    ContentFormat,
    FetchParsePagesResult,
    ParseDocumentResult,
    parse_document_result,
)
from .parse_views import fetch_parse_pages as fetch_parse_view
from .views import DEFAULT_FETCH_PAGES
from .vocab import EngineName, OcrMode


async def parse_document(
    path: Annotated[str, Field(description="Local file path or http(s) URL of an image, PDF or office file")],
    ctx: Context[Any],
    pages: Annotated[str | None, Field(description="Pages to parse, e.g. '1-5,8' (default all)")] = None,
    engine: Annotated[
        EngineName, Field(description="auto: the Upstage API with a key, else local (offline)")
    ] = "auto",
    output_formats: Annotated[
        list[OutputFormat] | None,
        Field(description="Content formats to produce (default all three: html, markdown, text)"),
    ] = None,
    ocr: Annotated[
        OcrMode,
        Field(description="auto: use a PDF's own text where it can be trusted; force: OCR every page"),
    ] = "auto",
    mode: Annotated[
        Literal["standard", "enhanced", "auto"],
        Field(description="Upstage: enhanced for complex tables, charts and images (slower)"),
    ] = "standard",
    chart_recognition: Annotated[bool, Field(description="Upstage: turn charts into tables")] = True,
    merge_multipage_tables: Annotated[
        bool, Field(description="Upstage: join a table that runs over several pages into one")
    ] = False,
    base64_encoding: Annotated[
        list[Category] | None,
        Field(description="Upstage: categories whose crops come back as base64 images, e.g. ['table']"),
    ] = None,
    model: Annotated[
        str | None, Field(description="Upstage model: 'document-parse' or a pinned version")
    ] = None,
    lang: Annotated[str | None, Field(description="Language hint for local OCR, e.g. 'en', 'ko'")] = None,
    output: Annotated[
        str | None, Field(description="Where to write the result JSON (default <temp>/<stem>.parse.json)")
    ] = None,
    force: Annotated[
        bool, Field(description="Run again even if this file and options were parsed before")
    ] = False,
    wait: Annotated[
        bool | None,
        Field(description="true: finish in the call whatever the size; false: return at once"),
    ] = None,
) -> ParseDocumentResult:
    """Parse a document into layout elements (headings, paragraphs, lists, tables, figures, ...) in reading
    order, as Markdown, HTML and text. Use it for structure and tables; use ocr_document for words with boxes.
    Small documents finish in the call (Markdown + result_path); large ones return a job_id at once."""
    from .jobs.parse_service import DEFAULT_FORMATS, submit_parse
    from .upstage.parse import ParseOptions

    with _tool_errors():
        options = ParseOptions(
            output_formats=tuple(output_formats or DEFAULT_FORMATS),
            ocr=ocr,
            mode=mode,
            chart_recognition=chart_recognition,
            merge_multipage_tables=merge_multipage_tables,
            base64_encoding=tuple(base64_encoding or ()),
        )
        state = _state(ctx)
        sub = await submit_parse(
            state.service,
            path,
            engine=None if engine == "auto" else engine,
            pages=pages,
            options=options,
            model=model,
            lang=lang,
            output=output,
            force=force,
        )
        job = await run_or_start(state, ctx, sub.job, wait)
        return parse_document_result(state.service, job, sub.reused)


async def fetch_parse_pages(
    job_id: Annotated[str, Field(description="The job id from parse_document")],
    ctx: Context[Any],
    pages: Annotated[
        str | None,
        Field(description=f"Page range, e.g. '1-10' (default the first {DEFAULT_FETCH_PAGES})"),
    ] = None,
    format: Annotated[ContentFormat, Field(description="markdown, html or text")] = "markdown",
    include_elements: Annotated[
        bool, Field(description="Also list each element with its category and relative box")
    ] = False,
) -> FetchParsePagesResult:
    """The parsed content of a page range of a parse job (Markdown by default), also while it runs. Read large
    documents a range at a time, following next_pages."""
    with _tool_errors():
        return fetch_parse_view(_state(ctx).service, job_id, pages, format, include_elements)
