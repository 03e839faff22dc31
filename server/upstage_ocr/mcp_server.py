"""The MCP server: `build_server(settings)` -> MCPServer with thin tools over `service.OCRService`; stdio and HTTP.

Nothing is created at import time. The lifespan owns one OCRService (job store + one Upstage client) and a task
group where large documents are worked on in the background; on start it resumes every job a dead process
left unfinished. Nothing but protocol is written to stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from anyio.abc import TaskGroup
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from . import __version__
from .errors import OCRError, redact
from .settings import Settings

if TYPE_CHECKING:
    import httpx

    from .jobs.service import OCRService
    from .jobs.store import Job

log = logging.getLogger("upstage_ocr.mcp")

DEFAULT_FETCH_PAGES = 10
MAX_TEXT_CHARS = 60_000

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
Without UPSTAGE_API_KEY the embedded offline engine is used (engine="local"); lang="ko" for Korean.
"""

EngineName = Literal["auto", "upstage", "local", "tesseract"]
SchemaName = Literal["clova", "google"]
ExportFormat = Literal["txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay"]
JobStatusName = Literal["queued", "running", "completed", "failed"]


@dataclass
class AppState:
    service: OCRService
    tasks: TaskGroup
    settings: Settings


# -- output models ---------------------------------------------------------------------------------------


class OcrDocumentResult(BaseModel):
    job_id: str = Field(
        description="Job id for get_ocr_status / fetch_ocr_pages / export_ocr / search_ocr_text"
    )
    status: JobStatusName
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


class OcrStatusResult(BaseModel):
    job_id: str
    status: JobStatusName
    input: str
    engine: str
    pages_done: int
    pages_total: int | None
    batches: list[BatchState] = Field(
        default_factory=list, description="Upstage async batches (10 pages each)"
    )
    error: str | None = None
    result_path: str | None = None
    created_at: float
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
    status: JobStatusName
    pages_total: int | None
    pages_done: int
    pages: list[PageOut]
    next_pages: str | None = Field(None, description="The next range to fetch, if any")


class JobSummary(BaseModel):
    job_id: str
    status: JobStatusName
    input: str
    engine: str
    pages_done: int
    pages_total: int | None
    created_at: float
    result_path: str | None = None


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


# -- helpers ---------------------------------------------------------------------------------------------


def _state(ctx: Context[Any]) -> AppState:
    state: AppState = ctx.request_context.lifespan_context
    return state


def _tool_error(exc: OCRError) -> ToolError:
    return ToolError(f"{exc} [{exc.code}]")


def _summary(job: Job) -> JobSummary:
    return JobSummary(
        job_id=job.id,
        status=job.status,  # type: ignore[arg-type]
        input=job.input_name,
        engine=job.engine,  # type: ignore[arg-type]
        pages_done=job.pages_done,
        pages_total=job.pages_total,
        created_at=job.created_at,
        result_path=job.result_path if job.status == "completed" else None,
    )


def _status(job: Job) -> OcrStatusResult:
    return OcrStatusResult(
        job_id=job.id,
        status=job.status,  # type: ignore[arg-type]
        input=job.input_name,
        engine=job.engine,  # type: ignore[arg-type]
        pages_done=job.pages_done,
        pages_total=job.pages_total,
        batches=[BatchState(**b) for b in job.batches],
        error=job.error,
        result_path=job.result_path if job.status == "completed" else None,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def _box(vertices: Any) -> list[list[int | float]]:
    return [[v.x, v.y] for v in vertices]


# -- the server ------------------------------------------------------------------------------------------


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
    read_only = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )

    @mcp.tool(
        title="OCR a document",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def ocr_document(
        path: Annotated[
            str, Field(description="Local file path or http(s) URL of an image, PDF or office file")
        ],
        ctx: Context[Any],
        pages: Annotated[str | None, Field(description="Pages to read, e.g. '1-5,8' (default all)")] = None,
        engine: Annotated[
            EngineName, Field(description="auto: upstage with a key, else local (offline)")
        ] = "auto",
        model: Annotated[str | None, Field(description="Upstage model: 'ocr' or a pinned version")] = None,
        schema: Annotated[
            SchemaName | None, Field(description="Write the result in the CLOVA or Google Vision shape")
        ] = None,
        lang: Annotated[
            str | None, Field(description="Language hint for local engines, e.g. 'en', 'ko'")
        ] = None,
        output: Annotated[
            str | None, Field(description="Where to write the result JSON (default <temp>/<stem>.ocr.json)")
        ] = None,
        force: Annotated[
            bool, Field(description="Run again even if this file and options were done before")
        ] = False,
        wait: Annotated[
            bool | None,
            Field(description="true: finish in the call whatever the size; false: return at once"),
        ] = None,
    ) -> OcrDocumentResult:
        """OCR a document: text with word boxes. Small documents finish in the call (text + result_path); large
        ones return a job_id at once with status 'running' (then get_ocr_status / fetch_ocr_pages)."""
        state = _state(ctx)
        service = state.service
        try:
            sub = await service.submit(
                path,
                engine=None if engine == "auto" else engine,
                model=model,
                schema=schema,
                pages=pages,
                lang=lang,
                output=output,
                force=force,
            )
            job = sub.job
            small = job.pages_total is not None and job.pages_total <= state.settings.sync_page_limit
            if not job.finished and (wait or (wait is None and small)):

                async def progress(done: int, total: int | None, message: str) -> None:
                    await ctx.report_progress(done, total, message)

                job = await service.run(job.id, progress)
                if job.status == "failed":
                    raise ToolError(f"{job.error} [{job.error_code}] (job {job.id})")
            elif not job.finished:
                state.tasks.start_soon(service.run, job.id)
                job = service.get(job.id)
            return _document_result(service, job, sub.reused)
        except OCRError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(title="OCR job status", annotations=read_only)
    async def get_ocr_status(
        job_id: Annotated[str, Field(description="The job id from ocr_document")], ctx: Context[Any]
    ) -> OcrStatusResult:
        """A job's status (queued/running/completed/failed), pages done/total, Upstage batch states, the error
        when it failed and the result path when complete. Poll every few seconds while it runs."""
        try:
            return _status(_state(ctx).service.get(job_id))
        except OCRError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(title="Fetch OCR pages", annotations=read_only)
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
        service = _state(ctx).service
        try:
            job = service.get(job_id)
            total = job.pages_total if job.pages_total is not None else job.pages_done
            spec = pages or (f"1-{min(DEFAULT_FETCH_PAGES, total)}" if total else None)
            rows = list(service.iter_pages(job_id, spec, words=include_words)) if total else []
            out = [
                PageOut(
                    page=idx + 1,
                    source_page=number,
                    text=page.text,
                    confidence=page.confidence,
                    width=page.width,
                    height=page.height,
                    words=[
                        WordOut(
                            id=w.id, text=w.text, confidence=w.confidence, box=_box(w.boundingBox.vertices)
                        )
                        for w in page.words
                    ]
                    if include_words
                    else None,
                )
                for idx, number, page in rows
            ]
            last = max((p.page for p in out), default=0)
            if total and pages is None and last < total:
                next_pages: str | None = f"{last + 1}-{min(total, last + DEFAULT_FETCH_PAGES)}"
            elif total and out and last < total:
                next_pages = f"{last + 1}-{min(total, last + len(out))}"
            else:
                next_pages = None
            return FetchPagesResult(
                job_id=job.id,
                status=job.status,  # type: ignore[arg-type]
                pages_total=job.pages_total,  # type: ignore[arg-type]
                pages_done=job.pages_done,
                pages=out,
                next_pages=next_pages,
            )
        except OCRError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(title="List OCR jobs", annotations=read_only)
    async def list_ocr_jobs(
        ctx: Context[Any],
        limit: Annotated[int, Field(ge=1, le=200, description="How many jobs, newest first")] = 20,
    ) -> JobList:
        """Recent OCR jobs, newest first, with status, pages and result path."""
        return JobList(jobs=[_summary(j) for j in _state(ctx).service.list_jobs(limit)])

    @mcp.tool(
        title="Export an OCR result",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def export_ocr(
        job_id: Annotated[str, Field(description="A completed job's id")],
        format: Annotated[
            ExportFormat,
            Field(description="txt, md, json, csv, docx, hocr, pdf (searchable) or overlay (PNG)"),
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

        try:
            paths = await export_job(_state(ctx).service, job_id, format, output, pages=pages)
            return ExportResult(job_id=job_id, format=format, paths=[str(p) for p in paths])
        except OCRError as exc:
            raise _tool_error(exc) from exc

    @mcp.tool(title="Search OCR text", annotations=read_only)
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

        try:
            hits = search_job(_state(ctx).service, job_id, query, limit=limit)
        except OCRError as exc:
            raise _tool_error(exc) from exc
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
                    box=_box(h.vertices),
                )
                for h in hits
            ],
        )

    @mcp.tool(title="Render an OCR page", annotations=read_only)
    async def render_ocr_page(
        job_id: Annotated[str, Field(description="The job id")],
        ctx: Context[Any],
        page: Annotated[int, Field(ge=1, description="1-based page number in the job's result")] = 1,
    ) -> Image:
        """A PNG of one page with its word boxes drawn and shaded by confidence (green sure, red unsure)."""
        from .output.job_exports import render_overlay_png

        try:
            data = await render_overlay_png(_state(ctx).service, job_id, page)
        except OCRError as exc:
            raise _tool_error(exc) from exc
        return Image(data=data, format="png")

    @mcp.resource("ocr://jobs/{job_id}/pages/{page}", mime_type="text/plain", title="OCR page text")
    async def job_page(job_id: str, page: str, ctx: Context[Any]) -> str:
        """The recognised text of one page of a job (1-based page number)."""
        service = _state(ctx).service
        rows = list(service.iter_pages(job_id, str(int(page))))
        if not rows:
            raise ToolError(f"page {page} of job {job_id} is not available (yet)")
        return rows[0][2].text

    return mcp


def _document_result(service: OCRService, job: Job, reused: bool) -> OcrDocumentResult:
    from .jobs.service import mean_confidence

    base: dict[str, Any] = {
        "job_id": job.id,
        "status": job.status,
        "engine": job.engine,
        "page_count": job.pages_total,
        "pages_done": job.pages_done,
        "reused": reused,
        "error": job.error,
    }
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


# -- running ---------------------------------------------------------------------------------------------


class _BearerAuth:
    """ASGI middleware: 401 unless `Authorization: Bearer <token>` (constant-time comparison)."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            import hmac

            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self.token):
                body = b'{"error": "unauthorized: send Authorization: Bearer <UPSTAGE_OCR_HTTP_TOKEN>"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, settings: Settings, host: str = "127.0.0.1") -> Any:
    """The streamable HTTP ASGI app at /mcp: Host/Origin checked, bearer token required when configured."""
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{host}:*", host],
            allowed_origins=[f"http://{host}:*", f"https://{host}:*"],
        )
    app = server.streamable_http_app(host=host, transport_security=security)
    return _BearerAuth(app, settings.http_token) if settings.http_token else app


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
