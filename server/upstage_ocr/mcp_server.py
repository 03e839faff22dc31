"""The MCP server: `build_server(settings)` -> MCPServer with thin module-level tools over `OCRService`; stdio and HTTP.

Nothing is created at import time. The lifespan owns one OCRService (job store + one Upstage client) and a task
group where large documents are worked on in the background; on start it resumes every job a dead process
left unfinished. The tools return the view models of `views.py`. Nothing but protocol is written to stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from . import __version__
from .errors import OCRError, redact
from .mcp_parse import fetch_parse_pages, parse_document
from .mcp_state import AppState, _state, _tool_errors, run_or_start
from .settings import Settings
from .views import (
    DEFAULT_FETCH_PAGES,
    ExportResult,
    FetchPagesResult,
    JobList,
    OcrDocumentResult,
    OcrStatusResult,
    SearchResult,
    document_result,
    fetch_pages,
    job_status,
    job_summary,
    search_result,
)
from .vocab import AnyExportFormat, EngineName, OcrMode, SchemaName

if TYPE_CHECKING:
    import httpx


log = logging.getLogger("upstage_ocr.mcp")

INSTRUCTIONS = """\
upstage-ocr reads images, scans, PDFs and office files and returns word-level text with boxes and confidences
(Upstage Document OCR shape). Use it whenever the user wants text out of a document or image.

- ocr_document: start here, with a local path or an http(s) URL. Small documents (a few pages) finish in the call
  and return their text and the absolute path of the result JSON: show that path to the user. Larger ones return
  at once with a job_id and status "running".
- get_ocr_status: poll a running job (every few seconds; pages done/total, batches, errors).
- fetch_ocr_pages: read a page range of a job (works while it runs). Read big documents a range at a time,
  never all at once; include_words=true only when boxes are needed.
- search_ocr_text: find where a phrase stands (page, line, box) to answer and cite a page.
- export_ocr: write txt, md, json, csv, docx, hocr, a searchable pdf, or overlay PNGs. render_ocr_page: see a
  page with its word boxes shaded by confidence.
- list_ocr_jobs: recent jobs, e.g. to find a job_id again. Results are cached: the same file and options are
  never recognised or paid for twice (force=true re-runs).
- parse_document: when the user wants structure rather than words: headings, paragraphs, lists and tables in
  reading order, as Markdown (also HTML and text). Same jobs as OCR (get_ocr_status, list_ocr_jobs);
  fetch_parse_pages reads a page range of the Markdown; export_ocr writes md, html, json or each table as csv.
Without UPSTAGE_API_KEY the embedded offline engine is used (engine="local"); lang="ko" for Korean.
"""


# -- the tools -------------------------------------------------------------------------------------------


async def ocr_document(
    path: Annotated[str, Field(description="Local file path or http(s) URL of an image, PDF or office file")],
    ctx: Context[Any],
    pages: Annotated[str | None, Field(description="Pages to read, e.g. '1-5,8' (default all)")] = None,
    engine: Annotated[
        EngineName, Field(description="auto: upstage with a key, else local (offline)")
    ] = "auto",
    model: Annotated[str | None, Field(description="Upstage model: 'ocr' or a pinned version")] = None,
    schema: Annotated[
        SchemaName | None, Field(description="Write the result in the CLOVA or Google Vision shape")
    ] = None,
    lang: Annotated[str | None, Field(description="Language hint for local engines, e.g. 'en', 'ko'")] = None,
    output: Annotated[
        str | None, Field(description="Where to write the result JSON (default <temp>/<stem>.ocr.json)")
    ] = None,
    force: Annotated[
        bool, Field(description="Run again even if this file and options were done before")
    ] = False,
    ocr: Annotated[
        OcrMode,
        Field(
            description="Local engines: 'auto' reads PDF pages with a trustworthy text layer from it (fast, "
            "exact), 'force' OCRs every page. The Upstage OCR API always OCRs every page"
        ),
    ] = "auto",
    wait: Annotated[
        bool | None,
        Field(description="true: finish in the call whatever the size; false: return at once"),
    ] = None,
) -> OcrDocumentResult:
    """OCR a document: text with word boxes. Small documents finish in the call (text + result_path); large
    ones return a job_id at once with status 'running' (then get_ocr_status / fetch_ocr_pages)."""
    options = {
        "pages": pages,
        "model": model,
        "schema": schema,
        "lang": lang,
        "output": output,
        "force": force,
        "ocr": ocr,
    }
    with _tool_errors():
        return await _ocr(_state(ctx), ctx, path, None if engine == "auto" else engine, options, wait)


async def get_ocr_status(
    job_id: Annotated[str, Field(description="The job id from ocr_document")], ctx: Context[Any]
) -> OcrStatusResult:
    """A job's status (queued/running/completed/failed), pages done/total, Upstage batch states, the error
    when it failed and the result path when complete. Poll every few seconds while it runs."""
    with _tool_errors():
        return job_status(_state(ctx).service.get(job_id))


async def fetch_ocr_pages(
    job_id: Annotated[str, Field(description="The job id from ocr_document")],
    ctx: Context[Any],
    pages: Annotated[
        str | None,
        Field(description=f"Page range, e.g. '1-10' (default the first {DEFAULT_FETCH_PAGES})"),
    ] = None,
    include_words: Annotated[bool, Field(description="Include words with boxes and confidences")] = False,
) -> FetchPagesResult:
    """Text of a page range of a job (and words with boxes on request). Works on partial results while the
    job runs. Read large documents a range at a time, following next_pages."""
    with _tool_errors():
        return fetch_pages(_state(ctx).service, job_id, pages, include_words)


async def list_ocr_jobs(
    ctx: Context[Any],
    limit: Annotated[int, Field(ge=1, le=200, description="How many jobs, newest first")] = 20,
) -> JobList:
    """Recent OCR jobs, newest first, with status, pages and result path."""
    return JobList(jobs=[job_summary(j) for j in _state(ctx).service.list_jobs(limit)])


async def export_ocr(
    job_id: Annotated[str, Field(description="A completed job's id")],
    format: Annotated[
        AnyExportFormat,
        Field(
            description="txt, md, json, csv, docx, hocr, pdf (searchable) or overlay (PNG); "
            "parse jobs: md, html, json, or csv (one file per table)"
        ),
    ],
    ctx: Context[Any],
    output: Annotated[
        str | None, Field(description="Output path or directory (default <temp>/<stem>.<ext>)")
    ] = None,
    pages: Annotated[str | None, Field(description="Pages for overlay, e.g. '1-3'")] = None,
) -> ExportResult:
    """Write a finished job as txt, md, json, csv, docx, hocr, a searchable PDF (text layer over the page
    images) or overlay PNGs (word boxes shaded by confidence). Returns the absolute paths written."""
    from .output.job_exports import export_job

    with _tool_errors():
        paths = await export_job(_state(ctx).service, job_id, format, output, pages=pages)
        return ExportResult(job_id=job_id, format=format, paths=[str(p) for p in paths])


async def search_ocr_text(
    job_id: Annotated[str, Field(description="The job id")],
    query: Annotated[
        str, Field(min_length=1, description="Phrase to find (case-insensitive, tolerant of OCR slips)")
    ],
    ctx: Context[Any],
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
) -> SearchResult:
    """Find a phrase in a job's text, across line breaks and OCR slips. Each hit gives its page, the line it
    stands in, its box and confidence, best first: cite the page when answering."""
    from .output.job_exports import search_job

    with _tool_errors():
        return search_result(job_id, query, search_job(_state(ctx).service, job_id, query, limit=limit))


async def render_ocr_page(
    job_id: Annotated[str, Field(description="The job id")],
    ctx: Context[Any],
    page: Annotated[int, Field(ge=1, description="1-based page number in the job's result")] = 1,
) -> Image:
    """A PNG of one page with its word boxes drawn and shaded by confidence (green sure, red unsure)."""
    from .output.job_exports import render_overlay_png

    with _tool_errors():
        return Image(data=await render_overlay_png(_state(ctx).service, job_id, page), format="png")


async def job_page(job_id: str, page: str, ctx: Context[Any]) -> str:
    """The recognised text of one page of a job (1-based page number)."""
    rows = list(_state(ctx).service.iter_pages(job_id, str(int(page))))
    if not rows:
        raise ToolError(f"page {page} of job {job_id} is not available (yet)")
    return rows[0][2].text


async def _ocr(
    state: AppState,
    ctx: Context[Any],
    path: str,
    engine: str | None,
    options: dict[str, Any],
    wait: bool | None,
) -> OcrDocumentResult:
    """Submit; finish small documents (or any with `wait`) in the call, start the rest in the background."""
    sub = await state.service.submit(path, engine=engine, **options)
    job = await run_or_start(state, ctx, sub.job, wait)
    return document_result(state.service, job, sub.reused)


# -- the server ------------------------------------------------------------------------------------------

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_WRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_WRITES_OPEN = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
TOOLS = (
    (ocr_document, "OCR a document", _WRITES_OPEN),
    (parse_document, "Parse a document", _WRITES_OPEN),
    (get_ocr_status, "OCR job status", _READ_ONLY),
    (fetch_ocr_pages, "Fetch OCR pages", _READ_ONLY),
    (fetch_parse_pages, "Fetch parsed pages", _READ_ONLY),
    (list_ocr_jobs, "List OCR jobs", _READ_ONLY),
    (export_ocr, "Export an OCR result", _WRITES),
    (search_ocr_text, "Search OCR text", _READ_ONLY),
    (render_ocr_page, "Render an OCR page", _READ_ONLY),
)


def build_server(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> MCPServer:
    """The upstage-ocr MCP server. `transport` replaces the network under the Upstage client (tests)."""
    from .jobs.service import OCRService

    settings = settings or Settings.load()

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[AppState]:
        async with OCRService(settings, transport=transport) as service, anyio.create_task_group() as tg:
            for job_id in service.unfinished_ids():
                log.info("resuming job %s", job_id)
                tg.start_soon(service.run, job_id)
            try:
                yield AppState(service=service, tasks=tg, settings=settings)
            finally:
                tg.cancel_scope.cancel()

    mcp = MCPServer(
        "upstage-ocr",
        title="Upstage OCR",
        description="OCR for AI agents: word-level text with boxes from images, scans, PDFs and office files.",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
    )
    for tool, title, hints in TOOLS:
        mcp.tool(title=title, annotations=hints)(tool)
    mcp.resource("ocr://jobs/{job_id}/pages/{page}", mime_type="text/plain", title="OCR page text")(job_page)
    return mcp


# -- running ---------------------------------------------------------------------------------------------


def serve(
    settings: Settings | None = None, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765
) -> None:
    settings = settings or Settings.load()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    server = build_server(settings)
    if not http:
        server.run("stdio")
        return
    import uvicorn

    from .mcp_http import http_app

    if host not in ("127.0.0.1", "localhost", "::1") and not settings.http_token:
        log.warning(
            "listening on %s without UPSTAGE_OCR_HTTP_TOKEN: anyone who can reach it can use it", host
        )
    config = uvicorn.Config(http_app(server, settings, host), host=host, port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)


def main() -> None:
    """`upstage-ocr-mcp`: the MCP server on stdio."""
    try:
        serve()
    except OCRError as exc:
        sys.stderr.write(f"upstage-ocr-mcp: {redact(str(exc))}\n")
        raise SystemExit(exc.exit_code) from exc
