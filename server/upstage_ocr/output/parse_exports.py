"""Exports of a finished parse job: Markdown, an HTML page, the result JSON, and each table as a CSV file.

Tables are read from an element's HTML (`<tr>`, `<td>`/`<th>`, `colspan`/`rowspan` spread over the cells
they cover), or from its Markdown pipe table when HTML was not asked for.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, JobError
from ..fsutil import atomic_write_text, resolve_output
from ..parse_models import Element, ParseResult
from ..vocab import PARSE_EXPORT_FORMATS

if TYPE_CHECKING:
    from ..jobs.job import Job
    from ..jobs.service import OCRService

SUFFIXES = {"md": ".md", "html": ".html", "csv": ".csv", "json": ".parse.json"}
_FORMAT_OF = {"md": "markdown", "html": "html"}


class _TableParser(HTMLParser):
    """Rows of cells (text, colspan, rowspan) of the first table in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, int, int]]] = []
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
        elif tag == "tr" and self._depth == 1:
            self.rows.append([])
        elif tag in ("td", "th") and self._depth == 1:
            if not self.rows:
                self.rows.append([])
            values = dict(attrs)
            self._cell, self._span = [], (_span(values.get("colspan")), _span(values.get("rowspan")))
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
        elif tag in ("td", "th") and self._cell is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell)).strip()
            self.rows[-1].append((text, *self._span))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1


def html_table_grid(fragment: str) -> list[list[str]]:
    """The cells of an HTML table as a rectangular grid; a spanning cell's text fills its first cell only."""
    parser = _TableParser()
    parser.feed(fragment)
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(parser.rows):
        c = 0
        for text, colspan, rowspan in row:
            while (r, c) in grid:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[(r + dr, c + dc)] = text if (dr, dc) == (0, 0) else ""
            c += colspan
    if not grid:
        return []
    height = max(r for r, _ in grid) + 1
    width = max(c for _, c in grid) + 1
    return [[grid.get((r, c), "") for c in range(width)] for r in range(height)]


def markdown_table_grid(text: str) -> list[list[str]]:
    """The cells of a Markdown pipe table (the separator row dropped)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        inner = line[1:-1] if line.endswith("|") and not line.endswith("\\|") else line[1:]
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", inner)]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
            continue
        rows.append([html.unescape(c.replace("\\|", "|")) for c in cells])
    return rows


def table_grid(element: Element) -> list[list[str]]:
    if "<table" in element.content.html:
        return html_table_grid(element.content.html)
    return markdown_table_grid(element.content.markdown)


def tables_csv(result: ParseResult) -> list[tuple[Element, str]]:
    """(element, CSV text) of every table in the result that has cells."""
    out = []
    for element in result.elements:
        if element.category != "table":
            continue
        grid = table_grid(element)
        if not grid:
            continue
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(grid)
        out.append((element, buf.getvalue()))
    return out


def html_page(body: str, title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def require_format(job: Job, fmt: str) -> str:
    """The content field for `fmt` (md -> markdown), which the job must have asked the parser for."""
    field = _FORMAT_OF.get(fmt, fmt)
    if field not in (job.options.get("parse") or {}).get("output_formats", []):
        raise ConfigError(
            f"job {job.id} was parsed without {field} output",
            hint=f"Parse the file again with output format {field} (it is part of the default)",
        )
    return field


def _content(job: Job, result: ParseResult, fmt: str) -> str:
    return str(getattr(result.content, require_format(job, fmt)))


def export_parse(service: OCRService, job: Job, fmt: str, output: str | None) -> list[Path]:
    """Write finished parse job `job` as md, html, json or its tables as csv; the absolute paths written."""
    from ..jobs.parse_store import job_parse_result, whole_envelope

    if fmt not in PARSE_EXPORT_FORMATS:
        raise ConfigError(
            f"a parse job exports as {', '.join(PARSE_EXPORT_FORMATS)}, not {fmt}",
            hint="OCR the file for txt, docx, hocr, pdf or overlay exports",
        )
    envelope = whole_envelope(service.store, job)
    result = job_parse_result(service.store, job)
    target = resolve_output(output, job.input_name, Path(job.input_path), SUFFIXES[fmt])
    if fmt == "json":
        atomic_write_text(target, json.dumps(envelope or result.to_json_dict(), ensure_ascii=False))
        return [target]
    if fmt != "csv":
        text = _content(job, result, fmt)
        atomic_write_text(target, html_page(text, job.input_name) if fmt == "html" else text + "\n")
        return [target]
    tables = tables_csv(result)
    if not tables:
        raise JobError(f"job {job.id} found no tables", hint="Export md or html for the rest of the document")
    if len(tables) == 1:
        atomic_write_text(target, tables[0][1])
        return [target]
    stem = target.name[: -len(".csv")] if target.name.endswith(".csv") else target.stem
    paths = []
    for k, (element, text) in enumerate(tables, start=1):
        path = target.with_name(f"{stem}.page{element.page}.table{k}.csv")
        atomic_write_text(path, text)
        paths.append(path)
    return paths
