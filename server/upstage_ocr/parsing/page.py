"""One page image plus its words -> Document Parse elements in reading order.

Tables come first (ruled grids, then horizontal-rule tables whose columns come from word alignment), then
figures (ink that is not words), then the remaining words as lines, blocks and categories.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image

from ..parse_models import Element, rel_box
from .blocks import CAPTION_RE, Region, build_blocks, classify
from .figures import bullet_box, find_figures
from .order import reading_order
from .render import render
from .rulings import find_rules, group_grids, ink_mask
from .tables import Table, aligned_table, ruled_table, unruled_tables
from .words import Box, PageWord, group_lines, marker, median_height, to_page_words, union_box


def inside(box: Box, w: PageWord, tol: float = 2.0) -> bool:
    return box[0] - tol <= w.cx <= box[2] + tol and box[1] - tol <= w.cy <= box[3] + tol


def _rule_tables(hlines: list, words: Sequence[PageWord], text_h: float) -> list[Region]:
    """Tables framed by horizontal rules of one width (top, below the header, bottom) and no vertical ones."""
    out: list[Region] = []
    stacks: list[list[tuple[float, float, float]]] = []
    for seg in sorted(hlines):
        for stack in stacks:
            last = stack[-1]
            same_width = abs(last[1] - seg[1]) <= 2 * text_h and abs(last[2] - seg[2]) <= 2 * text_h
            if same_width and seg[0] - last[0] <= 25 * text_h:
                stack.append(seg)
                break
        else:
            stacks.append([seg])
    for stack in stacks:
        if len(stack) < 2:
            continue
        box = (min(s[1] for s in stack), stack[0][0], max(s[2] for s in stack), stack[-1][0])
        table = aligned_table(box, [w for w in words if inside(box, w, 0.0)])
        if table is not None and len(table.rows) >= 2:
            out.append(Region("table", box, table=table, font_px=round(table.text_height)))
    return out


def _has_text(table: Table) -> bool:
    """At least two cells, and a third of them, hold text (an empty grid is a drawing or a form)."""
    cells = [c for row in table.rows for c in row if c is not None]
    filled = sum(1 for c in cells if c.text)
    return filled >= 2 and filled >= len(cells) / 3


def find_tables(image_mask: Any, words: Sequence[PageWord], text_h: float) -> list[Region]:
    """Table regions from the rules in the image: ruled grids, then stacks of horizontal rules."""
    hsegs, vsegs = find_rules(image_mask, text_h)
    tables: list[Region] = []
    loose: list = []
    for grid in group_grids(hsegs, vsegs):
        if grid.vlines and grid.hlines:
            table = ruled_table(grid, [w for w in words if inside(grid.box, w)])
            if table is not None and _has_text(table):
                tables.append(Region("table", grid.box, table=table, font_px=round(table.text_height)))
                continue
        if not grid.vlines and len(grid.hlines) == 1:
            loose.extend(grid.hlines)
    tables += _rule_tables(loose, words, text_h)
    return tables


def _absorb_labels(box: Box, words: Sequence[PageWord], margin: float) -> tuple[Box, set[PageWord]]:
    """The figure's box grown over the words inside it or within `margin` of it (axis labels, legends)."""
    taken: set[PageWord] = set()
    for _ in range(4):
        near = {w for w in words if w not in taken and _near(box, w, margin)}
        if not near:
            break
        taken |= near
        box = union_box([box, *((w.x0, w.y0, w.x1, w.y1) for w in near)])
    return box, taken


def _near(box: Box, w: PageWord, margin: float) -> bool:
    return (
        w.x0 <= box[2] + margin
        and w.x1 >= box[0] - margin
        and w.y0 <= box[3] + margin
        and w.y1 >= box[1] - margin
    )


def layout_regions(image: Image.Image, words: Iterable[Any]) -> list[Region]:
    """The page's regions in reading order."""
    height = image.size[1]
    pw = to_page_words(words)
    text_h = median_height(pw)
    mask = ink_mask(image)
    tables = find_tables(mask, pw, text_h)
    rest = [w for w in pw if not any(inside(t.box, w) for t in tables)]
    figures: list[Region] = []
    captions = {w for ln in group_lines(rest, 1.2) if CAPTION_RE.match(ln.text) for w in ln.words}
    for found in find_figures(mask, rest, [t.box for t in tables], text_h):
        box, within = _absorb_labels(found, [w for w in rest if w not in captions], 0.75 * text_h)
        if len(within) > max(30, len(rest) // 2):  # a frame or a scan's dark edge around the text: no figure
            continue
        rest = [w for w in rest if w not in within]
        figures.append(
            Region("figure", box, alt=" ".join(ln.text for ln in group_lines(list(within), gap_factor=1e9)))
        )
    # tables are looked for in finely cut lines (a cell gap can be as narrow as a heading's word gap), text is
    # read in lines cut only at gutters
    for table in unruled_tables(group_lines(rest, gap_factor=0.75), text_h):
        tables.append(Region("table", table.box, table=table, font_px=round(table.text_height)))
        rest = [w for w in rest if not inside(table.box, w)]
    lines = group_lines(rest, gap_factor=1.2)
    for line in lines:
        if not marker(line.text) and (blob := bullet_box(mask, line.box, rest)) is not None:
            line.words.insert(0, PageWord("•", *blob))
    # the body type size over every word on the page (a page of one heading and a table has its body in the table)
    texts = [classify(block, text_h, height) for block in build_blocks(lines)]
    body = [r for r in [*texts, *tables, *figures] if r.category not in ("header", "footer")]
    by_pos = sorted(
        (r for r in texts if r.category in ("header", "footer")), key=lambda r: (r.box[1], r.box[0])
    )
    ordered = reading_order(body, lambda r: r.box, gutter=max(8.0, text_h * 0.9))
    headers = [r for r in by_pos if r.category == "header"]
    footers = [r for r in by_pos if r.category == "footer"]
    return [*headers, *ordered, *footers]


def _crop_b64(image: Image.Image, box: Box) -> str:
    buf = io.BytesIO()
    image.crop(tuple(int(v) for v in box)).convert("RGB").save(buf, format="PNG")  # type: ignore[arg-type]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def parse_page(
    image: Image.Image,
    words: Iterable[Any],
    page_number: int,
    *,
    base64_categories: Sequence[str] = (),
) -> list[Element]:
    """Elements of one page (1-based `page_number`) in reading order, with every format filled in.

    `words`: the page's words in pixel coordinates of `image` (`models.Word`, `models.RawWord`, Upstage word
    dicts or `PageWord`). Ids count from 0 on the page; `assemble` makes them global.
    `base64_categories`: categories whose elements carry a PNG crop in `base64_encoding`.
    """
    width, height = image.size
    elements = []
    for i, region in enumerate(layout_regions(image, words)):
        x0, y0, x1, y1 = (round(v) for v in region.box)
        coord = f"top-left:({x0},{y0}); bottom-right:({x1},{y1})"
        element = Element(
            category=region.category,
            content=render(region, i, coord),
            coordinates=rel_box(*region.box, width, height),
            id=i,
            page=page_number,
        )
        if region.category in base64_categories:
            element.base64_encoding = _crop_b64(image, region.box)  # type: ignore[attr-defined]
        elements.append(element)
    return elements
