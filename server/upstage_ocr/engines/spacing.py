"""Word breaks the recogniser missed, found again in the ink.

On blurred scans RapidOCR sometimes reads a line's characters right but drops a space ("1xMineral Water",
"Thankyou!"). Its word boxes then hold two words. The gap is still there on the page: a run of blank columns
as wide as the spaces it did read, and much wider than the gaps between letters.

The page calibrates itself: on each Latin line the blank runs between the words RapidOCR did separate are
known spaces; the blank runs inside its words are (almost all) gaps between letters. Both are measured
relative to the line's ink height, so the rule holds across font sizes. A run inside a word is a missed space
when it is as wide as the page's spaces (at least SPACE_SHARE of their median) and clearly wider than its
letter gaps (LETTER_MARGIN times their 90th percentile). With too few known spaces on the page nothing is
split. Monospaced fonts (wide gaps around narrow letters, wider spaces) and proportional ones both fall out of
the same rule because both scales come from the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from PIL import Image

from .geometry import TextLine, TextWord

SPACE_SHARE = 0.7
LETTER_MARGIN = 1.4
MIN_KNOWN_SPACES = 6
# Two words the recogniser separated are one when the blank between them is under both JOIN_SPACE_SHARE of
# the page's spaces and JOIN_LETTER_MARGIN times its letter gaps (90th percentile).
JOIN_SPACE_SHARE = 0.5
JOIN_LETTER_MARGIN = 1.5
INK_DROP = 55  # a pixel this much darker than the line's background is ink

_LATIN = re.compile("^[\x21-\x7e\u00a0-\u024f\u2010-\u2044\u20a0-\u20bf\u2122]+$")


@dataclass
class _Profile:
    left: int  # x of the crop in the image
    height: float  # ink height of the line, pixels
    runs: list[tuple[int, int]]  # blank column runs (start, end), image x, inside the ink's extent
    inked: np.ndarray  # per column of the crop: holds a stroke


def _edge(a: tuple[float, float], b: tuple[float, float], xs: np.ndarray) -> np.ndarray:
    """y of the straight edge from a to b at each x."""
    (xa, ya), (xb, yb) = a, b
    if abs(xb - xa) < 1e-6:
        return np.full(xs.shape, (ya + yb) / 2)
    return ya + (yb - ya) * (xs - xa) / (xb - xa)


def _profile(gray: np.ndarray, line: TextLine) -> _Profile | None:
    """Columns of the line's band (between its top and bottom edges, so a slanted line is followed and its
    neighbours left out) that hold ink, and the blank runs between them."""
    pts = line.points
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    h, w = gray.shape
    x0, x1 = max(0, int(min(xs))), min(w, int(max(xs)) + 1)
    y0, y1 = max(0, int(min(ys))), min(h, int(max(ys)) + 1)
    if x1 - x0 < 8 or y1 - y0 < 6:
        return None
    crop = gray[y0:y1, x0:x1]
    cols_x = np.arange(x0, x1, dtype=np.float64)
    top = _edge(pts[0], pts[1], cols_x) - y0
    bottom = _edge(pts[3], pts[2], cols_x) - y0
    rows_y = np.arange(y1 - y0, dtype=np.float64)[:, None]
    band = (rows_y >= top[None, :]) & (rows_y <= bottom[None, :])
    background = float(np.percentile(crop[band], 90)) if band.any() else 255.0
    ink = (crop < background - INK_DROP) & band
    height = float(np.median(bottom - top))
    per_row_extent = np.flatnonzero(ink.sum(axis=1) >= max(2, 0.02 * crop.shape[1]))
    if per_row_extent.size:  # ink height: the band's share that holds ink (slant removed by the band)
        height = min(height, float(per_row_extent[-1] - per_row_extent[0] + 1))
    inked = ink.sum(axis=0) >= 2  # a single dark pixel in a column is a speck, not a stroke
    cols = np.flatnonzero(inked)
    if cols.size < 2 or height < 6:
        return None
    # blank runs between the first and the last inked column: where consecutive inked columns are apart
    gaps = np.flatnonzero(np.diff(cols) > 1)
    runs = [(x0 + int(cols[i]) + 1, x0 + int(cols[i + 1])) for i in gaps]
    return _Profile(x0, height, runs, inked)


def _span(word: TextWord) -> tuple[float, float]:
    xs = [p[0] for p in word.points]
    return min(xs), max(xs)


def _latin_line(line: TextLine) -> bool:
    return (
        len(line.words) > 0
        and all(_LATIN.match(w.text) for w in line.words)
        and not any(w.pieces for w in line.words)
    )


def _inner_runs(word: TextWord, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Blank runs well inside a word's box (not within a character's width of its ends, where the box,
    estimated by the recogniser, may reach over the real space)."""
    left, right = _span(word)
    char = (right - left) / max(1, len(word.text))
    return [r for r in runs if left + 0.8 * char < (r[0] + r[1]) / 2 < right - 0.8 * char]


def _known_spaces(line: TextLine, runs: list[tuple[int, int]]) -> list[int]:
    """The widest blank run between each pair of neighbouring words of the line."""
    out = []
    words = sorted(line.words, key=lambda w: _span(w)[0])
    for a, b in pairwise(words):
        ca, cb = sum(_span(a)) / 2, sum(_span(b)) / 2
        between = [r[1] - r[0] for r in runs if ca < (r[0] + r[1]) / 2 < cb]
        if between:
            out.append(max(between))
    return out


_CLOSING = set(".,;:!?)]}%'\"")
_OPENING = set("([{")
_FIGURE = set("0123456789.,")
_NARROW = set("ijl!'|.,:;I")
_SLIM = set('ftr()[]/-"')
_WIDE = set("mwMW%@")


def _width(ch: str) -> float:
    """A rough advance width of a character in a proportional Latin font, in ems."""
    if ch in _NARROW:
        return 0.28
    if ch in _SLIM:
        return 0.38
    if ch in _WIDE:
        return 0.85
    if ch.isupper():
        return 0.7
    return 0.56


def _cut(text: str, frac: float, lo: int) -> int:
    """The character index (lo..len-1) whose start lies nearest `frac` of the word's width."""
    widths = [_width(c) for c in text]
    total = sum(widths)
    best, best_err, acc = lo, 2.0, sum(widths[:lo])
    for k in range(lo, len(text)):
        err = abs(acc / total - frac)
        if err < best_err:
            best, best_err = k, err
        acc += widths[k]
    return best


def _ink_span(word: TextWord, prof: _Profile) -> tuple[float, float]:
    """The first and last inked columns inside the word's box (its box, estimated by the recogniser, may be
    a little wide or narrow; the ink is not)."""
    left, right = _span(word)
    a = max(0, int(left) - prof.left)
    b = min(prof.inked.size, int(right) + 1 - prof.left)
    cols = np.flatnonzero(prof.inked[a:b]) if b > a else np.array([], dtype=np.int64)
    if cols.size < 2:
        return left, right
    return float(prof.left + a + cols[0]), float(prof.left + a + cols[-1] + 1)


def _split(word: TextWord, at: list[tuple[int, int]], prof: _Profile) -> list[TextWord]:
    """`word` cut at the blank runs `at` (sorted); the characters are shared out by the ink on either side of
    each run (the runs' own blank excluded), against rough character widths. A cut between two digits is not
    made: figures such as "17" or "21.30" stand apart in many fonts."""
    left, right = _ink_span(word, prof)
    top = min(p[1] for p in word.points)
    bottom = max(p[1] for p in word.points)
    text = word.text
    n = len(text)
    total_ink = (right - left) - sum(e - s for s, e in at)
    if total_ink <= 0:
        return [word]
    cuts: list[int] = []
    used: list[tuple[int, int]] = []
    blank_before = 0.0
    for start, end in at:
        lo = cuts[-1] + 1 if cuts else 1
        if lo > n - 1:
            break
        k = _cut(text, (start - left - blank_before) / total_ink, lo)
        blank_before += end - start
        # punctuation closes the word before a space, and opens none after it ("clock. Please", "(see")
        if text[k] in _CLOSING:
            k += 1
        elif text[k - 1] in _OPENING:
            k -= 1
        if not lo <= k <= n - 1 or text[k] in _CLOSING or text[k - 1] in _OPENING:
            continue
        if text[k - 1] in _FIGURE and text[k] in _FIGURE:
            continue
        cuts.append(k)
        used.append((start, end))
    if not cuts:
        return [word]
    bounds = [0, *cuts, n]
    edges = [left, *[float(x) for r in used for x in r], right]
    parts = []
    for i in range(len(bounds) - 1):
        x_a, x_b = edges[2 * i], edges[2 * i + 1]
        quad = [(x_a, top), (x_b, top), (x_b, bottom), (x_a, bottom)]
        parts.append(replace(word, text=text[bounds[i] : bounds[i + 1]], points=quad))
    return parts


def restore_spaces(lines: list[TextLine], image: Image.Image) -> list[TextLine]:
    """`lines` with words split where the ink shows a space the recogniser did not read."""
    latin = [ln for ln in lines if _latin_line(ln)]
    if not latin:
        return lines
    gray = np.asarray(image.convert("L"))
    profiles = {id(ln): _profile(gray, ln) for ln in latin}
    spaces: list[float] = []
    letters: list[float] = []
    for ln in latin:
        prof = profiles[id(ln)]
        if prof is None:
            continue
        spaces += [s / prof.height for s in _known_spaces(ln, prof.runs)]
        for word in ln.words:
            letters += [(r[1] - r[0]) / prof.height for r in _inner_runs(word, prof.runs)]
    if len(spaces) < MIN_KNOWN_SPACES or not letters:
        return lines
    space = float(np.median(spaces))
    letter = float(np.percentile(letters, 90))
    threshold = max(SPACE_SHARE * space, LETTER_MARGIN * letter)
    if threshold >= space:  # letters and spaces not told apart on this page
        return lines
    join_below = min(JOIN_SPACE_SHARE * space, JOIN_LETTER_MARGIN * letter)
    out = []
    for ln in lines:
        prof = profiles.get(id(ln))
        if prof is None:
            out.append(ln)
            continue
        words: list[TextWord] = []
        for word in _join_close(ln.words, prof, join_below):
            wide = [r for r in _inner_runs(word, prof.runs) if (r[1] - r[0]) / prof.height >= threshold]
            words += _split(word, wide, prof) if wide and len(word.text) >= 2 else [word]
        changed = len(words) != len(ln.words) or any(
            a is not b for a, b in zip(words, ln.words, strict=False)
        )
        out.append(replace(ln, words=words) if changed else ln)
    return out


def _join_close(words: list[TextWord], prof: _Profile, below: float) -> list[TextWord]:
    """`words` with neighbours joined where the blank between them is a gap between letters, not a space:
    the recogniser sometimes puts a space inside a word of large or bold letters (`W HITEBOARD`)."""
    out: list[TextWord] = []
    for word in sorted(words, key=lambda w: _span(w)[0]):
        if out:
            prev = out[-1]
            ca, cb = sum(_span(prev)) / 2, sum(_span(word)) / 2
            blank = max([r[1] - r[0] for r in prof.runs if ca < (r[0] + r[1]) / 2 < cb], default=0)
            if blank / prof.height < below:
                out[-1] = _merged(prev, word)
                continue
        out.append(word)
    return out


def _merged(a: TextWord, b: TextWord) -> TextWord:
    xs = [p[0] for p in (*a.points, *b.points)]
    ys = [p[1] for p in (*a.points, *b.points)]
    n = len(a.text) + len(b.text)
    conf = (a.confidence * len(a.text) + b.confidence * len(b.text)) / max(1, n)
    quad = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
    return TextWord(a.text + b.text, conf, quad)
