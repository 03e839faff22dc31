"""A region's content in Upstage's three formats: HTML (one tag per element, with its id and type size),
Markdown (`# ` headings, `- `/`1. ` lists, pipe tables) and plain text.
"""

from __future__ import annotations

import html as _html
import re

from ..parse_models import Content
from .blocks import Region
from .tables import Table

_TAGS = {"header": "header", "footer": "footer", "caption": "caption", "heading1": "h1"}
_OPEN_ID = re.compile(r"^<(\w+) id='\d+'")


def esc(text: str) -> str:
    return _html.escape(text, quote=False)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def table_html(table: Table, eid: int, font_px: int) -> str:
    rows = []
    for row in table.rows:
        cells = []
        for cell in row:
            if cell is None:
                continue
            span = (f" rowspan='{cell.rowspan}'" if cell.rowspan > 1 else "") + (
                f" colspan='{cell.colspan}'" if cell.colspan > 1 else ""
            )
            cells.append(f"<td{span}>{esc(cell.text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id='{eid}' style='font-size:{font_px}px'>" + "".join(rows) + "</table>"


def table_grid(table: Table) -> list[list[str]]:
    """The table as a full rectangle of cell texts; a spanned cell's text sits in its top-left position."""
    n_cols = table.n_cols
    grid = [[""] * n_cols for _ in table.rows]
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row):
            if cell is not None:
                grid[r][c] = cell.text
    return grid


def table_markdown(table: Table) -> str:
    grid = table_grid(table)
    if not grid:
        return ""
    lines = ["| " + " | ".join(_md_cell(t) for t in grid[0]) + " |", "|" + " --- |" * len(grid[0])]
    lines += ["| " + " | ".join(_md_cell(t) for t in row) + " |" for row in grid[1:]]
    return "\n".join(lines)


def table_text(table: Table) -> str:
    return "\n".join(" | ".join(t for t in row) for row in table_grid(table))


def _figure(region: Region, eid: int, coord: str) -> Content:
    alt = esc(region.alt).replace('"', "&quot;")
    html = f'<figure id=\'{eid}\'><img data-coord="{coord}" alt="{alt}" /></figure>'
    return Content(html=html, markdown=f"![{region.alt or 'image'}](/image/placeholder)", text=region.alt)


def _list(region: Region, eid: int) -> Content:
    tag = "ol" if region.ordered else "ul"
    lis = "".join(f"<li>{esc(item)}</li>" for item in region.items)
    html = f"<{tag} id='{eid}' style='font-size:{region.font_px}px'>{lis}</{tag}>"
    if region.ordered:
        md = "\n".join(f"{i}. {item}" for i, item in enumerate(region.items, 1))
    else:
        md = "\n".join(f"- {item}" for item in region.items)
    return Content(html=html, markdown=md, text="\n".join(ln.text for ln in region.lines))


def render(region: Region, eid: int, coord: str = "") -> Content:
    """The region's HTML, Markdown and text; `eid` is the element id written into the HTML."""
    if region.category == "figure":
        return _figure(region, eid, coord)
    if region.table is not None:
        t = region.table
        return Content(
            html=table_html(t, eid, region.font_px), markdown=table_markdown(t), text=table_text(t)
        )
    if region.category == "list":
        return _list(region, eid)
    text = "\n".join(ln.text for ln in region.lines)
    flat = " ".join(ln.text for ln in region.lines)
    style = f" style='font-size:{region.font_px}px'"
    tag = _TAGS.get(region.category)
    if tag:
        html = f"<{tag} id='{eid}'{style}>{esc(flat)}</{tag}>"
    else:
        html = f"<p id='{eid}' data-category='{region.category}'{style}>{'<br>'.join(esc(ln.text) for ln in region.lines)}</p>"
    md = "# " + flat if region.category == "heading1" else flat
    return Content(html=html, markdown=md, text=text)


def renumber(html: str, eid: int) -> str:
    """The element's HTML with the id in its opening tag replaced by `eid`."""
    return _OPEN_ID.sub(lambda m: f"<{m.group(1)} id='{eid}'", html, count=1)
