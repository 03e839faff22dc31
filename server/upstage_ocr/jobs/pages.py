"""Page selections: "1-5,8" parsed into page numbers, numbers written back as ranges."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import PageRangeError

_RANGE_PART = re.compile(r"^\s*(\d*)\s*(-)?\s*(\d*)\s*$")


def parse_page_range(spec: str | None, total: int | None) -> list[int] | None:
    """Pages selected by `spec` ("1-5,8", "3-", "-2", "all"/None/"") as sorted unique 1-based numbers.

    None means every page. `total` None (page count unknown) allows explicit numbers only.
    """
    if spec is None or spec.strip().lower() in {"", "all", "*"}:
        return None
    of = (
        f"the document has {total} page{'s' if total != 1 else ''}"
        if total is not None
        else "page count unknown"
    )
    pages: set[int] = set()
    for part in spec.split(","):
        m = _RANGE_PART.match(part)
        if not m or not (m.group(1) or m.group(3)) or (m.group(1) and m.group(3) and not m.group(2)):
            raise PageRangeError(f"invalid page range {spec!r}", hint=f"Use e.g. 1-5,8 or 3- or -2 ({of})")
        start_s, dash, end_s = m.groups()
        start = int(start_s) if start_s else 1
        if dash:
            if end_s:
                end = int(end_s)
            elif total is not None:
                end = total
            else:
                raise PageRangeError(
                    f"page range {spec!r} is open-ended but the {of}", hint="Give an end page"
                )
        else:
            end = start
        if start < 1 or end < 1:
            raise PageRangeError(f"page numbers start at 1 (got {spec!r}; {of})")
        if start > end:
            raise PageRangeError(f"page range {part.strip()!r} runs backwards ({of})")
        if total is not None and end > total:
            raise PageRangeError(f"page range {spec!r} is outside the document: {of}")
        pages.update(range(start, end + 1))
    return sorted(pages)


def select_pages(spec: str | None, count: int | None) -> tuple[list[int] | None, list[int] | None]:
    """(the job's page numbers, the selection that is part of its identity) for `spec` over `count` pages.

    The page numbers are every page when `spec` selects none (None when the count is unknown). A selection of
    every page is no selection: the same job as without one (and no subset upload).
    """
    numbers = parse_page_range(spec, count)
    if numbers is None and count is not None:
        numbers = list(range(1, count + 1))
    if numbers is not None and count is None:
        raise PageRangeError(
            "pages cannot be selected in this file type on the upstage engine", hint="Omit --pages"
        )
    everything = list(range(1, count + 1)) if count is not None else None
    selected = numbers if (spec and numbers is not None and numbers != everything) else None
    return numbers, selected


def format_page_ranges(numbers: Sequence[int]) -> str:
    """Sorted page numbers as ranges: [1, 2, 3, 7] -> "1-3,7"."""
    out: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(out)
