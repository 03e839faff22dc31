"""The local engines backend: a job's pages rendered one at a time and recognised off the event loop.

`run_local_pages` keeps at most `workers` pages in flight (each page: render + recognise in one worker thread),
so both cores are busy while at most `workers` rasters exist. Results are delivered to `on_pages` **in page
order** (the order of `page_numbers`), in batches of the pages ready together; a page that finishes early
waits, in memory as a small `Page` model, until the pages before it are delivered. Pages read from a PDF's
text layer (a few milliseconds each) are read and delivered many at a time, so that thread hops and store
commits do not cost as much as the pages themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from PIL import Image
from pydantic import BaseModel

from .. import models, textlayer
from ..engines.base import Engine, get_engine
from ..errors import EngineError, JobError, OCRError
from ..inputs import office, pdf_pages
from ..inputs.documents import DEFAULT_DPI, DocumentInfo, inspect_document, iter_page_images, render_page
from ..models import TEXT_LAYER
from .job import Job
from .runner import Progress
from .store import JobStore

log = logging.getLogger("upstage_ocr")


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def recognize_page(engine: Engine, image: Image.Image, page_index: int, lang: str | None) -> models.Page:
    """One page image through `engine`, as a `models.Page` (word ids start at 0; `models.assemble` renumbers)."""
    try:
        words = engine.recognize(image, lang)
    except OCRError:
        raise
    except Exception as exc:
        raise EngineError(f"the {engine.name} engine failed on page {page_index + 1}: {exc}") from exc
    width, height = image.size
    page = models.build_page(page_index, width, height, words, first_word_id=0, source=models.OCR)
    _release_memory()
    return page


def _release_memory() -> None:
    """Give freed inference buffers back to the OS (glibc keeps them otherwise, and RSS creeps up per page)."""
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def model_version_for(engine_name: str, lang: str | None) -> str:
    """`modelVersion` for results of `engine_name` with this language hint (loads no model)."""
    return get_engine(engine_name).model_version_for(lang)


def text_layer_page(pdf_page: Any, index: int, scale: float) -> models.PageJSON | None:
    """The page's JSON from its PDF text layer when that can be trusted, else None (the page is OCR'd)."""
    result = textlayer.read_page(pdf_page, index, scale)
    log.debug("page %d: %s %s", index + 1, result.verdict.reason, result.verdict.stats)
    return result.data


def iter_page_work(
    info: DocumentInfo, page_numbers: list[int], ocr: str, dpi: int = DEFAULT_DPI
) -> Iterator[tuple[int, Image.Image | models.PageJSON]]:
    """(page number, image to recognise or the JSON of a page already read from the text layer), one page at
    a time.

    `ocr="auto"` reads PDF pages whose text layer can be trusted from it; `"force"` renders every page.
    """
    if ocr == "auto" and info.kind == "pdf":
        return pdf_pages.iter_pdf(info.path, page_numbers, dpi, info.name, text_layer_page)
    return iter_page_images(info, page_numbers, dpi=dpi)


class LayerPage:
    """A page read from its text layer together with its render, for readers that need the image too (the
    local parse engine finds table rules and figures in the ink)."""

    def __init__(self, page: models.Page, image: Image.Image) -> None:
        self.page = page
        self.image = image

    def close(self) -> None:
        self.image.close()


def _with_renders(
    info: DocumentInfo, items: Iterator[tuple[int, Any]], dpi: int
) -> Iterator[tuple[int, Any]]:
    for number, item in items:
        yield (
            number,
            LayerPage(models.as_page(item), render_page(info, number, dpi))
            if isinstance(item, models.PageJSON)
            else item,
        )


TEXT_LAYER_BATCH = 16  # at most this many pages read from the text layer are handed out together ...
TEXT_LAYER_BATCH_SECONDS = 0.1  # ... or as many as are read in this long


class _PageSource:
    """A thread-safe hand-out of (page number, image or finished page) from one page generator."""

    def __init__(self, iterator: Iterator[tuple[int, Image.Image | models.PageJSON]]) -> None:
        self._it = iterator
        self._lock = anyio.Lock()
        self._error: Exception | None = None  # raised by the generator after pages it had already made

    async def next(self) -> list[tuple[int, Any]]:
        """The next page to recognise, after the pages read from the text layer before it (`_next_pages`);
        empty at the end. An error of the generator comes after the pages it made before it, so those are
        stored (a resumed job does not read them again)."""
        # Rendering happens in a worker thread; the lock keeps the generator single-threaded.
        async with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            items, self._error = await anyio.to_thread.run_sync(_next_pages, self._it)
            if not items and self._error is not None:
                error, self._error = self._error, None
                raise error
            return items

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if callable(close):
            close()


def _next_pages(it: Iterator[tuple[int, Any]]) -> tuple[list[tuple[int, Any]], Exception | None]:
    """Items up to and including the next one that is not a finished page's JSON, or up to TEXT_LAYER_BATCH
    items (TEXT_LAYER_BATCH_SECONDS): a page read from the text layer takes a few milliseconds, and handing
    them out one thread hop and one commit each cost as much again. With the error the generator raised after
    them, if it did.

    Python's cyclic garbage collector is paused meanwhile: reading a page makes thousands of short-lived
    objects and no reference cycles, and the passes they trigger walk the whole heap (100,000 objects and
    more once the models are loaded) for nothing: 10-25% of a text-layer page's time, varying run to run."""
    out: list[tuple[int, Any]] = []
    start = time.perf_counter()
    with _collector_paused():
        while len(out) < TEXT_LAYER_BATCH:
            try:
                item = next(it, None)
            except Exception as exc:
                return out, exc
            if item is None:
                break
            out.append(item)
            if (
                not isinstance(item[1], models.PageJSON)
                or time.perf_counter() - start > TEXT_LAYER_BATCH_SECONDS
            ):
                break
    return out, None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _LazyEngine:
    """The engine, created (models loaded) in a worker thread when the first page needs recognising: a
    document read wholly from its text layer loads no model."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._engine: Engine | None = None
        self._lock = anyio.Lock()

    async def get(self) -> Engine:
        async with self._lock:
            if self._engine is None:
                self._engine = await anyio.to_thread.run_sync(get_engine, self._name)
            return self._engine


class _InOrder:
    """Finished pages handed on in document order, in batches of those ready together. At most `window`
    hand-outs are in flight or waiting for an earlier page (an OCR'd page, or up to TEXT_LAYER_BATCH small
    pages read from the text layer, with or before it), so memory stays bounded however long the document is."""

    def __init__(self, page_numbers: list[int], window: int) -> None:
        self._numbers = page_numbers
        self._done: dict[int, tuple[Any, bool]] = {}  # page, and whether it holds a window slot
        self._ready = anyio.Condition()
        self.window = anyio.Semaphore(window)

    async def put(self, pages: list[tuple[int, Any]], slot: bool = True) -> None:
        """Finished pages of one hand-out; with `slot`, the last one holds the hand-out's window slot."""
        async with self._ready:
            for k, (number, page) in enumerate(pages):
                self._done[number] = (page, slot and k == len(pages) - 1)
            self._ready.notify_all()

    async def deliver(self, on_pages: Callable[[list[tuple[int, Any]]], Awaitable[None]]) -> None:
        numbers, i = self._numbers, 0
        while i < len(numbers):
            async with self._ready:
                while numbers[i] not in self._done:
                    await self._ready.wait()
                batch, slots = [], 0
                while i < len(numbers) and numbers[i] in self._done:
                    page, slot = self._done.pop(numbers[i])
                    batch.append((numbers[i], page))
                    slots += slot
                    i += 1
            await on_pages(batch)
            for _ in range(slots):
                self.window.release()


async def run_local_pages(
    info: DocumentInfo,
    page_numbers: list[int],
    *,
    engine_name: str,
    lang: str | None,
    on_pages: Callable[[list[tuple[int, Any]]], Awaitable[None]],
    workers: int | None = None,
    dpi: int = DEFAULT_DPI,
    recognize: Callable[[Engine, Image.Image, int, str | None], Any] = recognize_page,
    ocr: str = "auto",
    read_layer: Callable[[LayerPage, int], Any] | None = None,
) -> None:
    """OCR `page_numbers` (1-based) of `info` with a local engine; `await on_pages([(number, page), ...])` in
    page order, with the pages finished together (pages read from the text layer come many at a time).

    Each delivered page has `id` = its 0-based position in the document (page_number - 1); a page read from
    the text layer is delivered as its JSON (`models.PageJSON`; `models.as_page` makes it a `Page`). The engine is
    created (models loaded) in a worker thread when a page first needs it. Errors from any page cancel the
    rest and propagate. `recognize(engine, image, page_index, lang)` makes what is delivered: an OCR
    `models.Page` by default, a page of layout elements for parse jobs (`parse_local_backend.py`). With
    `ocr="auto"` PDF pages with a trustworthy text layer are delivered as read from it (`textlayer.py`),
    without `recognize`; with `read_layer`, such a page comes with its render and `read_layer(layer_page,
    page_index)` makes what is delivered.
    """
    if not page_numbers:
        return
    n_workers = max(1, workers or default_workers())
    engine = _LazyEngine(engine_name)
    items = iter_page_work(info, list(page_numbers), ocr, dpi)
    source = _PageSource(_with_renders(info, items, dpi) if read_layer else items)
    pages = _InOrder(list(page_numbers), 2 * n_workers)

    async def worker() -> None:
        while True:
            await pages.window.acquire()
            items = await source.next()
            if not items:
                pages.window.release()
                return
            number, work = items[-1]
            if isinstance(work, models.PageJSON):  # all read from the text layer: stored as they are
                await pages.put(items)
                continue
            if len(items) > 1:  # text-layer pages before it: small, and the page to recognise keeps the slot
                await pages.put(items[:-1], slot=False)
            try:
                if isinstance(work, LayerPage) and read_layer is not None:
                    page = await anyio.to_thread.run_sync(read_layer, work, number - 1)
                else:
                    page = await anyio.to_thread.run_sync(
                        recognize, await engine.get(), work, number - 1, lang
                    )
            finally:
                work.close()
            await pages.put([(number, page)])

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pages.deliver, on_pages)
            for _ in range(n_workers):
                tg.start_soon(worker)
    except Exception as exc:
        # A failed page cancels the other workers; the task group wraps its error in an exception group.
        # Callers (the job runner, the CLI's error lines) expect the page's own error.
        inner = first_error(exc)
        if inner is exc:
            raise
        raise inner  # noqa: B904 - its own cause (the model's exception) is kept
    finally:
        source.close()


def first_error(exc: BaseException) -> BaseException:
    """The error a user should see inside (nested) exception groups: the first OCRError, else the first."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and inner:
        exc = next((e for e in inner if isinstance(e, OCRError)), inner[0])
        inner = getattr(exc, "exceptions", None)
    return exc


class LocalBackend:
    """A job's pages through a local engine, each committed to the store as it is delivered (in page order)."""

    def __init__(self, store: JobStore, workers: int | None, office_cache: Path):
        self.store = store
        self.workers = workers
        self.office_cache = office_cache

    async def work(self, job: Job, progress: Progress | None) -> None:
        path = Path(job.input_path)  # resolved when the job was created, whatever the spelling given
        converted = path == office.conversion_path(self.office_cache, job.sha256).resolve()
        # The input is hashed again to catch a file changed since the job was created (not a conversion,
        # which is ours and keyed by the hash of the file it came from).
        info = await anyio.to_thread.run_sync(partial(inspect_document, path, digest=not converted))
        if not converted and info.sha256 != job.sha256:
            raise JobError(f"{path} changed since the job was created", hint="Run it again with force")
        numbers = job.page_numbers or list(range(1, (info.page_count or 1) + 1))
        position = {n: i for i, n in enumerate(numbers)}
        done = self.store.done_indexes(job.id)
        remaining = [n for i, n in enumerate(numbers) if i not in done]
        total = len(numbers)
        lang = job.options.get("lang")
        recognizer = self._recognizer(job)
        ocr = self._ocr_mode(job)
        base_version = self._model_version(job)
        self.store.update(job.id, model_version=base_version, pages_total=total)

        async def on_pages(pages: list[tuple[int, BaseModel | models.PageJSON]]) -> None:
            count = self.store.add_pages(job.id, [(position[number], number, page) for number, page in pages])
            if progress:
                await progress(count, total, f"page {pages[-1][0]} ({count}/{total})")

        if progress and done:
            await progress(len(done), total, f"resuming after {len(done)} finished pages")
        await run_local_pages(
            info,
            remaining,
            engine_name=job.engine,
            lang=lang,
            on_pages=on_pages,
            workers=self.workers,
            recognize=recognizer,
            ocr=ocr,
            read_layer=self._layer_reader(job),
        )
        if self.store.page_sources(job.id).get(TEXT_LAYER):
            self.store.update(job.id, model_version=f"{base_version}+{TEXT_LAYER}")

    def _model_version(self, job: Job) -> str:
        return model_version_for(job.engine, job.options.get("lang"))

    def _recognizer(self, job: Job) -> Callable[[Engine, Image.Image, int, str | None], Any]:
        """What each page image becomes (stored by `add_pages`): here an OCR page."""
        return recognize_page

    def _ocr_mode(self, job: Job) -> str:
        """`auto` (trusted text layers read, not OCR'd) or `force`; jobs from before the option OCR'd every page."""
        return str(job.options.get("ocr", "force"))

    def _layer_reader(self, job: Job) -> Callable[[LayerPage, int], Any] | None:
        """What a text-layer page with its render becomes; None: the text-layer page itself is stored."""
        return None
