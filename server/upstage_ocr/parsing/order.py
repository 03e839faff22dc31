"""Reading order by recursive cuts: columns left to right where a blank vertical strip runs through a band,
bands top to bottom where a blank horizontal strip runs across. Headers come first and footers last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .words import Box

T = TypeVar("T")


def _split(items: list[T], box: Callable[[T], Box], axis: int, min_gap: float) -> list[list[T]]:
    """Groups of items separated by blank strips at least `min_gap` wide along `axis` (0: x, 1: y)."""
    lo, hi = axis, axis + 2
    ordered = sorted(items, key=lambda it: box(it)[lo])
    groups: list[list[T]] = []
    reach = float("-inf")
    for it in ordered:
        b = box(it)
        if not groups or b[lo] - reach >= min_gap:
            groups.append([it])
        else:
            groups[-1].append(it)
        reach = max(reach, b[hi]) if len(groups[-1]) > 1 else b[hi]
    return groups


def _merge_columned(bands: list[list[T]], box: Callable[[T], Box], gutter: float) -> list[list[T]]:
    """Adjacent bands that each have columns and keep them when joined, joined: two columns whose paragraph
    breaks happen to line up are still read column by column."""

    def columned(items: list[T]) -> bool:
        return len(_split(items, box, 0, gutter)) > 1

    out: list[list[T]] = []
    for band in bands:
        if out and columned(out[-1]) and columned(band) and columned(out[-1] + band):
            out[-1] = out[-1] + band
        else:
            out.append(band)
    return out


def reading_order(items: Sequence[T], box: Callable[[T], Box], gutter: float) -> list[T]:
    """Items in reading order: columns (blank strips >= `gutter` wide) before bands, recursively."""
    items = list(items)
    if len(items) <= 1:
        return items
    cols = _split(items, box, 0, gutter)
    if len(cols) > 1:
        return [it for col in cols for it in reading_order(col, box, gutter)]
    bands = _merge_columned(_split(items, box, 1, 0.0), box, gutter)
    if len(bands) > 1:
        return [it for band in bands for it in reading_order(band, box, gutter)]
    return sorted(items, key=lambda it: (box(it)[1], box(it)[0]))
