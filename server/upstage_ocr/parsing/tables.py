"""Tables from ruled grids and from word alignment, as rows of cells (with row and column spans).

A ruled grid gives the row and column boundaries; a missing rule between two cells merges them (colspan or
rowspan). A grid with horizontal rules only (the booktabs style) and an unruled block of aligned words take
their columns from the blank vertical strips between the words and one row per text line.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .rulings import Grid, merge_positions
from .words import Box, Line, PageWord, group_lines, median_height, union_box


@dataclass
class Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1


@dataclass
class Table:
    box: Box
    rows: list[list[Cell | None]]  # None: covered by a span from above or the left
    text_height: float

    @property
    def n_cols(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _cell_text(words: Sequence[PageWord]) -> str:
    if not words:
        return ""
    return " ".join(line.text for line in group_lines(words, gap_factor=3.0))


def _covered(segs: list, pos: float, lo: float, hi: float, tol: float) -> bool:
    """Whether a rule at `pos` (within tol) covers the middle of [lo, hi]."""
    mid = (lo + hi) / 2
    return any(abs(s[0] - pos) <= tol and s[1] - tol <= mid <= s[2] + tol for s in segs)


def _index(edges: list[float], v: float) -> int:
    for i in range(len(edges) - 1):
        if v < edges[i + 1]:
            return i
    return len(edges) - 2


def _span_cells(owner: list[list[int]], texts: dict[int, list[PageWord]]) -> list[list[Cell | None]]:
    """Cells from an owner matrix (each position holds the id of the cell that covers it)."""
    n_rows, n_cols = len(owner), len(owner[0])
    seen: set[int] = set()
    rows: list[list[Cell | None]] = []
    for r in range(n_rows):
        row: list[Cell | None] = []
        for c in range(n_cols):
            oid = owner[r][c]
            if oid in seen:
                row.append(None)
                continue
            seen.add(oid)
            colspan = sum(1 for cc in range(c, n_cols) if owner[r][cc] == oid)
            rowspan = sum(1 for rr in range(r, n_rows) if owner[rr][c] == oid)
            row.append(Cell(_cell_text(texts.get(oid, [])), rowspan, colspan))
        rows.append(row)
    return rows


def _owners(grid: Grid, ys: list[float], xs: list[float], tol: float) -> list[list[int]]:
    """Each grid position's cell id, merging positions across a missing rule."""
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    owner = [[r * n_cols + c for c in range(n_cols)] for r in range(n_rows)]
    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not _covered(grid.vlines, xs[c + 1], ys[r], ys[r + 1], tol):
                _relabel(owner, owner[r][c + 1], owner[r][c])
            if r + 1 < n_rows and not _covered(grid.hlines, ys[r + 1], xs[c], xs[c + 1], tol):
                _relabel(owner, owner[r + 1][c], owner[r][c])
    return owner


def _relabel(owner: list[list[int]], old: int, new: int) -> None:
    if old == new:
        return
    for row in owner:
        for c, v in enumerate(row):
            if v == old:
                row[c] = new


def ruled_table(grid: Grid, words: Sequence[PageWord]) -> Table | None:
    """A table from a grid with horizontal and vertical rules, or None if the grid holds fewer than 2 cells."""
    text_h = median_height(words)
    tol = max(3.0, text_h * 0.4)
    x0, y0, x1, y1 = grid.box
    ys = merge_positions([s[0] for s in grid.hlines] + [y0, y1], tol)
    xs = merge_positions([s[0] for s in grid.vlines] + [x0, x1], tol)
    if len(ys) < 2 or len(xs) < 2 or (len(ys) - 1) * (len(xs) - 1) < 2:
        return None
    hlines = [*grid.hlines, (y0, x0, x1), (y1, x0, x1)]
    vlines = [*grid.vlines, (x0, y0, y1), (x1, y0, y1)]
    owner = _owners(Grid(grid.box, hlines, vlines), ys, xs, tol)
    texts: dict[int, list[PageWord]] = {}
    for w in words:
        oid = owner[_index(ys, w.cy)][_index(xs, w.cx)]
        texts.setdefault(oid, []).append(w)
    return Table(grid.box, _span_cells(owner, texts), text_h)


def column_gaps(words: Sequence[PageWord], min_gap: float) -> list[float]:
    """Middles of the blank vertical strips (at least `min_gap` wide) between the words."""
    covered = sorted((w.x0, w.x1) for w in words)
    gaps: list[float] = []
    reach = covered[0][1] if covered else 0.0
    for a, b in covered[1:]:
        if a - reach >= min_gap:
            gaps.append((a + reach) / 2)
        reach = max(reach, b)
    return gaps


def aligned_table(box: Box, words: Sequence[PageWord]) -> Table | None:
    """A table from words aligned in columns (one row per text line), or None if they form fewer than 2."""
    if not words:
        return None
    text_h = median_height(words)
    xs = [box[0], *column_gaps(words, text_h * 0.8), box[2]]
    lines = group_lines(words, gap_factor=0.8)
    row_tops: list[float] = merge_positions([ln.box[1] for ln in lines], text_h * 0.5)
    if len(xs) < 3 or len(row_tops) < 2:
        return None
    ys = [*row_tops, box[3] + 1]
    n_cols = len(xs) - 1
    texts: dict[int, list[PageWord]] = {}
    for w in words:
        r = _index(ys, w.cy)
        texts.setdefault(r * n_cols + _index(xs, w.cx), []).append(w)
    owner = [[r * n_cols + c for c in range(n_cols)] for r in range(len(ys) - 1)]
    return Table(box, _span_cells(owner, texts), text_h)


def _segment_rows(lines: Sequence[Line]) -> list[list[Line]]:
    """Line segments that share a row (vertical middles within each other's height), top to bottom."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        mid = (ln.box[1] + ln.box[3]) / 2
        if (
            rows
            and abs(mid - statistics.mean((s.box[1] + s.box[3]) / 2 for s in rows[-1])) <= 0.5 * ln.height
        ):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return rows


def _tabular(row: Sequence[Line]) -> bool:
    """A row of pieces spread across the page: 3+ segments, all but one of at most 4 words (a description
    column may be long; columns of prose are long in every segment), or 2 segments of at most 3 words."""
    sizes = sorted(len(s.words) for s in row)
    return (len(row) >= 3 and sizes[-2] <= 4) or (len(row) == 2 and sizes[-1] <= 3)


def unruled_tables(lines: Sequence[Line], text_h: float) -> list[Table]:
    """Tables without rules: 3+ consecutive rows of short segments whose words leave 1+ blank column strips."""
    out: list[Table] = []
    run: list[list[Line]] = []
    for row in [*_segment_rows(lines), []]:
        near = run and row and min(s.box[1] for s in row) - max(s.box[3] for s in run[-1]) <= 2.5 * text_h
        if row and _tabular(row) and (not run or near):
            run.append(row)
            continue
        if len(run) >= 3:
            words = [w for r in run for s in r for w in s.words]
            box = union_box((w.x0, w.y0, w.x1, w.y1) for w in words)
            table = aligned_table(box, words)
            if table is not None and table.n_cols >= 2 and _filled(table) >= 0.6 and not _prose(table):
                out.append(table)
        run = [row] if row and _tabular(row) else []
    return out


def _filled(table: Table) -> float:
    """The share of rows with text in at least two columns."""
    return sum(1 for r in table.rows if sum(1 for c in r if c is not None and c.text) >= 2) / max(
        1, len(table.rows)
    )


def _prose(table: Table) -> bool:
    """Two or more columns averaging 3+ words a cell: columns of running text, not a table."""
    wordy = 0
    for c in range(table.n_cols):
        texts = [row[c].text for row in table.rows if c < len(row) and row[c] is not None and row[c].text]  # type: ignore[union-attr]
        if texts and sum(len(t.split()) for t in texts) / len(texts) >= 3:
            wordy += 1
    return wordy >= 2
