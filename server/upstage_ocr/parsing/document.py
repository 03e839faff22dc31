"""Pages of elements -> one `ParseResult`: global ids in reading order and the whole document's content."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import InputError
from ..parse_models import OUTPUT_FORMATS, Content, Element, ParseResult, Usage
from .render import renumber

LOCAL_PARSE_MODEL = "local-parse-rules-1"


def check_formats(output_formats: Iterable[str]) -> tuple[str, ...]:
    """The requested formats, validated (one-line error naming the bad one)."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in output_formats))
    for f in formats:
        if f not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {f!r}: use {', '.join(OUTPUT_FORMATS)}")
    return formats


def assemble(
    pages_elements: Sequence[Sequence[Element]],
    output_formats: Iterable[str] = ("html",),
    *,
    model: str = LOCAL_PARSE_MODEL,
    pages: int | None = None,
) -> ParseResult:
    """One result from each page's elements (pages in order): ids 0.. across the document, formats not asked
    for set to "", document content joined from the elements (HTML by newline, Markdown by blank line,
    text by newline). `pages` defaults to the number of pages given (a page may have no elements)."""
    formats = check_formats(output_formats)
    elements: list[Element] = []
    for page in pages_elements:
        for el in page:
            eid = len(elements)
            c = el.content
            content = Content(
                html=renumber(c.html, eid) if "html" in formats else "",
                markdown=c.markdown if "markdown" in formats else "",
                text=c.text if "text" in formats else "",
            )
            elements.append(el.model_copy(update={"id": eid, "content": content}))
    doc = Content(
        html="\n".join(e.content.html for e in elements if e.content.html),
        markdown="\n\n".join(e.content.markdown for e in elements if e.content.markdown),
        text="\n".join(e.content.text for e in elements if e.content.text),
    )
    n_pages = len(pages_elements) if pages is None else pages
    return ParseResult(content=doc, elements=elements, model=model, usage=Usage(pages=n_pages))
