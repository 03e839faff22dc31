"""Exports, search and page renders of stored jobs: the glue between the job store and the pure writers."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import JobError
from ..fsutil import resolve_output
from ..vocab import ALL_EXPORT_FORMATS, EXPORT_FORMATS

if TYPE_CHECKING:
    from PIL import Image

    from ..jobs.service import OCRService
    from ..jobs.store import Job
    from .search import Hit

SUFFIXES = {
    "txt": ".txt",
    "md": ".md",
    "json": ".ocr.json",
    "csv": ".csv",
    "docx": ".docx",
    "hocr": ".hocr",
    "pdf": ".ocr.pdf",
    "overlay": ".overlay.png",
}


def _finished(service: OCRService, job_id: str) -> Job:
    job = service.get(job_id)
    if job.status != "completed":
        state = (
            f"failed: {job.error}"
            if job.status == "failed"
            else f"{job.status} ({job.pages_done}/{job.pages_total} pages)"
        )
        raise JobError(
            f"job {job_id} is not finished ({state})",
            hint="Wait for it with get_ocr_status / `upstage-ocr status`, or read pages with fetch",
        )
    return job


class PageImages:
    """Page rasters of a job's input, rendered one at a time at the size the result's boxes refer to."""

    def __init__(self, job: Job, sizes: dict[int, tuple[int, int]], office_cache: Path):
        self.job = job
        self.sizes = sizes
        self.office_cache = office_cache
        self._info: Any = None

    def __call__(self, index: int) -> Image.Image:
        from ..inputs import documents

        if self._info is None:
            path = Path(self.job.input_path)
            if not path.exists():
                raise JobError(
                    f"the input {path} is gone; page images cannot be rendered",
                    hint="Export txt/md/json/csv/docx/hocr instead, or OCR the file again",
                )
            self._info = documents.inspect_document(path, digest=False)
            if self._info.kind == "office":  # converted once per content, like the local engines' input
                self._info = replace(self._info, sha256=self.job.sha256)
        image = documents.render_page(self._info, self.job.page_number(index), office_cache=self.office_cache)
        size = self.sizes.get(index)
        if size and image.size != size and size[0] > 0 and size[1] > 0:
            image = image.resize(size)
        return image


async def export_job(
    service: OCRService, job_id: str, fmt: str, output: str | None, pages: str | None = None
) -> list[Path]:
    """Write a finished job in `fmt`; returns the absolute paths written."""
    from ..errors import ConfigError
    from ..jobs.parse_store import is_parse
    from . import writers

    if fmt not in ALL_EXPORT_FORMATS:
        raise ConfigError(
            f"unknown export format {fmt!r}", hint=f"Choose one of: {', '.join(ALL_EXPORT_FORMATS)}"
        )
    job = _finished(service, job_id)
    if is_parse(job):
        from .parse_exports import export_parse

        return await anyio.to_thread.run_sync(export_parse, service, job, fmt, output)
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(
            f"{fmt} export is for parse jobs; job {job_id} is an OCR job",
            hint=f"Choose one of: {', '.join(EXPORT_FORMATS)}",
        )
    target = resolve_output(output, job.input_name, Path(job.input_path), SUFFIXES[fmt])
    indexes = service.page_indexes(job, pages)
    sizes = {idx: (p.width, p.height) for idx, _n, p in service.store.iter_pages(job_id, indexes)}
    images = PageImages(job, sizes, service.office_cache)
    order = sorted(sizes)  # the writers number pages by their position in the stream
    meta = {"modelVersion": job.model_version or "", "numBilledPages": job.billed_pages}

    def page_image(position: int) -> Image.Image:
        return images(order[position])

    def run() -> list[Path]:
        stream = (page for _idx, _n, page in service.store.iter_pages(job_id, indexes))
        written = writers.export(
            stream, fmt, target, page_image=page_image, title=job.input_name, result_meta=meta
        )
        return list(written) if isinstance(written, list | tuple) else [Path(written)]

    return await anyio.to_thread.run_sync(run)


def search_job(service: OCRService, job_id: str, query: str, limit: int = 10) -> list[Hit]:
    from .search import search

    pages = (page for _idx, _n, page in service.iter_pages(job_id))  # unknown ids, parse jobs: JobError
    return search(pages, query, limit=limit)


async def render_overlay_png(service: OCRService, job_id: str, page: int) -> bytes:
    from .overlay import render_overlay

    job = service.get(job_id)
    rows = list(service.iter_pages(job_id, str(page)))
    if not rows:
        raise JobError(f"page {page} of job {job_id} is not available (yet)")
    idx, _number, ocr_page = rows[0]

    def run() -> bytes:
        image = PageImages(job, {idx: (ocr_page.width, ocr_page.height)}, service.office_cache)(idx)
        buf = io.BytesIO()
        render_overlay(ocr_page, image).save(buf, format="PNG")
        return buf.getvalue()

    return await anyio.to_thread.run_sync(run)
