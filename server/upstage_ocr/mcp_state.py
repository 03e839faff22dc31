"""What the MCP tools share: the server's state, error mapping, and finishing small jobs inside the call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anyio.abc import TaskGroup
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from .errors import OCRError
from .settings import Settings

if TYPE_CHECKING:
    from .jobs.job import Job
    from .jobs.service import OCRService


@dataclass
class AppState:
    service: OCRService
    tasks: TaskGroup
    settings: Settings


def _state(ctx: Context[Any]) -> AppState:
    state: AppState = ctx.request_context.lifespan_context
    return state


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The project's errors become the tool's error result: the message and its code, nothing else."""
    try:
        yield
    except OCRError as exc:
        raise ToolError(f"{exc} [{exc.code}]") from exc


async def run_or_start(state: AppState, ctx: Context[Any], job: Job, wait: bool | None) -> Job:
    """Finish small jobs (or any with `wait`) in the call, reporting progress; start the rest in the background."""
    service = state.service
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
    return job
