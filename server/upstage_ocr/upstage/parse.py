"""Document Parse on the Upstage API: request options, the sync and async calls, and joining async batches.

The calls go through `UpstageClient` (its retries, rate limiter, no-retry-after-an-ambiguous-submit rule and
error mapping): `parse_sync` is `POST /document-digitization` with `model=document-parse`, `submit_parse` the
same on `/async`; an async request is followed with `UpstageClient.follow_async` (status polls, each batch
downloaded once, expired or empty download URLs refreshed by a new status call).

Each async batch's download has the sync response's shape for its pages. `batch_elements` reads one, with
absolute 1-based pages (a batch that numbers its pages from 1 is shifted by `start_page - 1`);
`join_batches` puts batches together in order, element ids continued across batches (and the `id='N'`
attributes in their HTML with them), usage summed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import errors
from ..parse_models import CATEGORIES, OUTPUT_FORMATS, Content, Element, ParseResult, Usage

if TYPE_CHECKING:
    from ..settings import Settings
    from .client import UpstageClient

log = logging.getLogger("upstage_ocr.upstage")

PARSE_MODEL = "document-parse"
OCR_CHOICES = ("auto", "force")
MODE_CHOICES = ("standard", "enhanced", "auto")
CONTENT_JOINS = {"html": "\n", "markdown": "\n\n", "text": "\n"}
"""How the document's content joins its parts (the elements' content in the API's own examples: HTML by
newlines; Markdown paragraphs need a blank line)."""

_HTML_ID = re.compile(r"(<[A-Za-z][A-Za-z0-9]*\b[^<>]*?\sid=)(['\"]?)(\d+)\2")


def _choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise errors.ConfigError(f"unknown {name} {value!r}", hint=f"Choose one of: {', '.join(choices)}")


@dataclass(frozen=True)
class ParseOptions:
    """The Document Parse request options (docs/upstage-api.md §1.3, §2.4), defaults as the API's own."""

    output_formats: tuple[str, ...] = ("html",)
    ocr: str = "auto"
    coordinates: bool = True
    chart_recognition: bool = True
    base64_encoding: tuple[str, ...] = field(default_factory=tuple)
    mode: str = "standard"
    merge_multipage_tables: bool = False

    def __post_init__(self) -> None:
        # Kept in one canonical order (the contract's), so equal options compare and key equal.
        formats = {str(f).strip().lower() for f in self.output_formats}
        categories = {str(c).strip().lower() for c in self.base64_encoding}
        if not formats:
            raise errors.ConfigError(
                "no output format chosen", hint=f"Choose one or more of: {', '.join(OUTPUT_FORMATS)}"
            )
        for fmt in sorted(formats):
            _choice("output format", fmt, OUTPUT_FORMATS)
        for category in sorted(categories):
            _choice("base64_encoding category", category, CATEGORIES)
        object.__setattr__(self, "output_formats", tuple(f for f in OUTPUT_FORMATS if f in formats))
        object.__setattr__(self, "base64_encoding", tuple(c for c in CATEGORIES if c in categories))
        _choice("ocr mode", self.ocr, OCR_CHOICES)
        _choice("parse mode", self.mode, MODE_CHOICES)

    def form_fields(self) -> dict[str, str]:
        """The multipart fields (lists as JSON strings, booleans as true/false), model and document aside."""
        fields = {
            "ocr": self.ocr,
            "output_formats": json.dumps(list(self.output_formats)),
            "coordinates": _flag(self.coordinates),
            "chart_recognition": _flag(self.chart_recognition),
            "mode": self.mode,
            "merge_multipage_tables": _flag(self.merge_multipage_tables),
        }
        if self.base64_encoding:
            fields["base64_encoding"] = json.dumps(list(self.base64_encoding))
        return fields

    def identity(self) -> dict[str, Any]:
        """Everything that changes the result, for a job's key (JSON-ready)."""
        data = asdict(self)
        data["output_formats"] = list(self.output_formats)
        data["base64_encoding"] = list(self.base64_encoding)
        return data

    @classmethod
    def from_identity(cls, data: Mapping[str, Any]) -> ParseOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("output_formats", "base64_encoding"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def _flag(value: bool) -> str:
    return "true" if value else "false"


# ----------------------------------------------------------------------------------------------------------
# Limits


def check_limits(settings: Settings, name: str, pages: int | None, size: int) -> None:
    """One-line errors for a document the API would refuse (the limits are settings: the docs disagree)."""
    if size > settings.parse_max_mb * 1024 * 1024:
        raise errors.FileTooLargeError(
            f"{name} is {size / 1048576:.1f} MB; Document Parse on the Upstage API takes at most "
            f"{settings.parse_max_mb} MB",
            hint="Split the file, select pages, or use --engine local (or raise UPSTAGE_PARSE_MAX_MB if "
            "your plan allows more)",
        )
    if pages is not None and pages > settings.parse_async_max_pages:
        raise errors.FileTooLargeError(
            f"{name} has {pages} pages; Document Parse on the Upstage API takes at most "
            f"{settings.parse_async_max_pages} per document",
            hint=f"Select a range with --pages (e.g. 1-{settings.parse_async_max_pages}) and parse the rest "
            "as another job",
        )


def use_async(settings: Settings, pages: int | None) -> bool:
    """Whether a parse of `pages` pages goes through the async API (more than one sync call takes)."""
    return pages is not None and pages > settings.parse_sync_max_pages


# ----------------------------------------------------------------------------------------------------------
# The calls


async def parse_sync(
    client: UpstageClient,
    document: Path | bytes,
    *,
    filename: str,
    options: ParseOptions,
    model: str = PARSE_MODEL,
) -> dict[str, Any]:
    """POST /document-digitization with `model=document-parse`: the raw JSON response (checked by `load`)."""
    raw = await client.ocr_sync(
        document, filename=filename, model=model, fields=options.form_fields(), what="the parse request"
    )
    load(raw, "the parse request")
    return raw


async def submit_parse(
    client: UpstageClient,
    document: Path | bytes,
    *,
    filename: str,
    options: ParseOptions,
    model: str = PARSE_MODEL,
) -> str:
    """POST /document-digitization/async with `model=document-parse`; returns the request id.

    Never retried after a failure that may have reached the server (that could start a second, billed parse).
    """
    return await client.submit_async(
        document, filename=filename, model=model, fields=options.form_fields(), what="the async parse submit"
    )


# ----------------------------------------------------------------------------------------------------------
# Reading and joining responses


def load(raw: Mapping[str, Any], what: str) -> ParseResult:
    """A parse response as a ParseResult; an answer of another shape is a one-line ServerError."""
    if not isinstance(raw.get("elements", []), list):
        raise errors.ServerError(
            f"the Upstage API sent {what} without an elements list",
            hint="Retry later; check UPSTAGE_BASE_URL",
        )
    try:
        return ParseResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise errors.ServerError(
            f"the Upstage API sent {what} in an unexpected shape ({where}: {first.get('msg', 'invalid')})",
            hint="Retry later; if it persists check UPSTAGE_PARSE_MODEL and UPSTAGE_BASE_URL",
        ) from exc


def batch_elements(
    batch_json: Mapping[str, Any], start_page: int, end_page: int | None = None
) -> list[Element]:
    """The elements of one downloaded batch, with absolute 1-based pages.

    Batches should number pages absolutely already (the batch starting at page 11 has pages 11..20). If one
    that starts after page 1 has pages below its start, it numbers them from 1: they are shifted by
    `start_page - 1`.
    """
    what = f"the batch starting at page {start_page}"
    return _absolute_pages(load(batch_json, what), start_page, end_page, what)


def _absolute_pages(result: ParseResult, start_page: int, end_page: int | None, what: str) -> list[Element]:
    elements = list(result.elements)
    if not elements:
        return []
    low = min(e.page for e in elements)
    shift = start_page - 1 if start_page > 1 and low < start_page else 0
    if shift:
        log.debug("batch starting at page %d has batch-relative pages; shifting by %d", start_page, shift)
        elements = [e.model_copy(update={"page": e.page + shift}) for e in elements]
    if end_page is not None and any(not start_page <= e.page <= end_page for e in elements):
        log.warning("%s has elements outside pages %d-%d", what, start_page, end_page)
    return elements


def renumber(elements: Iterable[Element], first_id: int) -> tuple[list[Element], dict[int, int]]:
    """The elements with ids first_id, first_id+1, ... (and their HTML's id attributes); (elements, old->new)."""
    out: list[Element] = []
    mapping: dict[int, int] = {}
    for offset, element in enumerate(elements):
        new = first_id + offset
        mapping.setdefault(element.id, new)
        html = rewrite_ids(element.content.html, {element.id: new})
        content = element.content.model_copy(update={"html": html})
        out.append(element.model_copy(update={"id": new, "content": content}))
    return out, mapping


def rewrite_ids(html: str, mapping: Mapping[int, int]) -> str:
    """`html` with the numeric id attributes of its tags mapped (ids not in `mapping` stay)."""
    if not html or not mapping:
        return html

    def repl(m: re.Match[str]) -> str:
        old = int(m.group(3))
        return f"{m.group(1)}{m.group(2)}{mapping.get(old, old)}{m.group(2)}"

    return _HTML_ID.sub(repl, html)


def join_batches(batches: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> ParseResult:
    """The document from its async batches, (batch status entry, downloaded JSON) in any order.

    Batches are joined in `id` order: element ids continue from one batch to the next, pages are absolute,
    each format's content is the batches' content joined (their HTML ids mapped like the elements'), and
    `usage.pages` is the sum.
    """
    ordered = sorted(batches, key=lambda item: int(item[0].get("id", 0)))
    elements: list[Element] = []
    parts: dict[str, list[str]] = {f: [] for f in OUTPUT_FORMATS}
    model, pages = "", 0
    for meta, data in ordered:
        start = int(meta.get("start_page") or 1)
        end = meta.get("end_page")
        what = f"batch {meta.get('id')}"
        result = load(data, what)
        mine, mapping = renumber(
            _absolute_pages(result, start, int(end) if end else None, what), len(elements)
        )
        elements.extend(mine)
        for fmt in OUTPUT_FORMATS:
            text = getattr(result.content, fmt)
            if text:
                parts[fmt].append(rewrite_ids(text, mapping) if fmt == "html" else text)
        model = model or result.model or str(meta.get("model") or "")
        pages += result.usage.pages or (int(end) - start + 1 if end else 0)
    content = Content(**{f: CONTENT_JOINS[f].join(parts[f]) for f in OUTPUT_FORMATS})
    return ParseResult(content=content, elements=elements, model=model, usage=Usage(pages=pages))


def map_pages(elements: Iterable[Element], numbers: Sequence[int]) -> list[Element]:
    """Elements of a response for a subset upload (pages 1..k of the subset) renumbered to the document's
    pages `numbers`; an element on a page past the subset is dropped (never more pages than were sent)."""
    out = []
    for element in elements:
        if 1 <= element.page <= len(numbers):
            out.append(element.model_copy(update={"page": numbers[element.page - 1]}))
    return out
