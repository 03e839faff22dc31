"""Engine-independent page geometry: reading order, page orientation and mapping boxes back to the page.

Every local engine produces `TextLine`s (a line box plus its words, each with a box) in the frame of the
image it looked at; these helpers turn them into `RawWord`s in reading order, in the original page's frame.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from PIL import Image

from ..models import RawWord

Point = tuple[float, float]
Quad = list[Point]

# Page rotations we try, as PIL transposes (counter-clockwise degrees).
_TRANSPOSE = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@dataclass
class TextWord:
    text: str
    confidence: float
    points: Quad
    # the recogniser's own pieces this word was joined from (characters on CJK lines), when it was joined
    pieces: list[TextWord] = field(default_factory=list)


@dataclass
class TextLine:
    points: Quad
    words: list[TextWord] = field(default_factory=list)

    def _extent(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the points, kept until `points` is replaced (reading order asks for
        them many times a line)."""
        points = self.points
        kept = self.__dict__.get("_kept_extent")
        if kept is None or kept[0] is not points:
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            kept = (points, (min(xs), min(ys), max(xs), max(ys)))
            self.__dict__["_kept_extent"] = kept
        return kept[1]  # type: ignore[no-any-return]

    @property
    def top(self) -> float:
        return self._extent()[1]

    @property
    def bottom(self) -> float:
        return self._extent()[3]

    @property
    def left(self) -> float:
        return self._extent()[0]

    @property
    def height(self) -> float:
        extent = self._extent()
        return max(1.0, extent[3] - extent[1])

    @property
    def width(self) -> float:
        extent = self._extent()
        return max(1.0, extent[2] - extent[0])

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom), at least a pixel wide."""
        left, top, right, bottom = self._extent()
        return (left, top, left + max(1.0, right - left), bottom)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def quad_from_box(left: float, top: float, right: float, bottom: float) -> Quad:
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def group_rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into visual rows (vertical overlap), rows top to bottom, lines left to right in a row.

    A line joins the row when it overlaps the row's vertical extent by at least half the smaller height, as
    the Upstage API does (`reading_rows` first separates columns, and cuts rows between far-apart fields).
    """
    rows: list[list[TextLine]] = []
    extents: list[tuple[float, float]] = []
    for line in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        placed = False
        if rows:
            top, bottom = extents[-1]
            overlap = min(bottom, line.bottom) - max(top, line.top)
            row_height = min(ln.height for ln in rows[-1])
            if overlap >= 0.5 * min(line.height, row_height):
                rows[-1].append(line)
                extents[-1] = (min(top, line.top), max(bottom, line.bottom))
                placed = True
        if not placed:
            rows.append([line])
            extents.append((line.top, line.bottom))
    return [sorted(row, key=lambda ln: ln.left) for row in rows]


def map_point_back(x: float, y: float, angle: int, width: int, height: int) -> Point:
    """A point in the image rotated counter-clockwise by `angle` back into the original (width x height) image."""
    if angle == 90:
        return (width - y, x)
    if angle == 180:
        return (width - x, height - y)
    if angle == 270:
        return (y, height - x)
    return (x, y)


def rotate_image(image: Image.Image, angle: int) -> Image.Image:
    return image.transpose(_TRANSPOSE[angle]) if angle in _TRANSPOSE else image


MAX_SKEW = 10.0  # degrees: lines slanting more than this are not a skewed scan's rows (a turned page is)


def skew(lines: Sequence[TextLine]) -> float:
    """The page's skew in radians (y down): the median slant of the top edges of its long lines (at least
    three times as wide as high), 0 when there are fewer than three such lines."""
    slants = []
    for ln in lines:
        if len(ln.points) != 4 or ln.width < 3 * ln.height:
            continue
        (x0, y0), (x1, y1) = ln.points[0], ln.points[1]
        angle = math.atan2(y1 - y0, x1 - x0)
        if x1 > x0 and abs(angle) <= math.radians(MAX_SKEW):
            slants.append(angle)
    return statistics.median(slants) if len(slants) >= 3 else 0.0


def upright_boxes(lines: Sequence[TextLine]) -> list[tuple[float, float, float, float]]:
    """Each line's box (x0, y0, x1, y1) in the frame of the page turned back by its skew: on a scan skewed by a
    degree or two, a column's lines then start at one x and the gutter between columns stays clear."""
    angle = skew(lines)
    if abs(angle) < math.radians(0.1):
        return [ln.box for ln in lines]
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for ln in lines:
        xs = [x * cos + y * sin for x, y in ln.points]
        ys = [y * cos - x * sin for x, y in ln.points]
        out.append((min(xs), min(ys), max(xs), max(ys)))
    return out


def reading_rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into the page's text lines, in reading order: column by column where the page has
    columns (`columns.blocks`), rows top to bottom within each, and a row cut where separate fields sit far
    apart (`columns.field_breaks`)."""
    from .columns import blocks, field_breaks

    kept = [ln for ln in lines if ln.words]
    out: list[list[TextLine]] = []
    for block in blocks(upright_boxes(kept)):
        for row in group_rows([kept[i] for i in block]):
            row_boxes = [ln.box for ln in row]
            cuts = [0, *field_breaks(row_boxes, [ln.text for ln in row]), len(row)]
            out += [row[a:b] for a, b in pairwise(cuts)]
    return out


def to_raw_words(lines: Sequence[TextLine], angle: int = 0, size: tuple[int, int] = (0, 0)) -> list[RawWord]:
    """Words in reading order with line indices, boxes mapped back from a page rotated by `angle`."""
    out: list[RawWord] = []
    width, height = size
    for index, row in enumerate(reading_rows(lines)):
        for line in row:
            for word in line.words:
                if not word.text.strip():
                    continue
                pts = [map_point_back(float(x), float(y), angle, width, height) for x, y in word.points]
                # made here from floats and ints: no validation needed (a model per word costs more than the rest)
                out.append(
                    RawWord.model_construct(
                        text=word.text, confidence=float(word.confidence), points=pts, line=index
                    )
                )
    return out


def quality(lines: Sequence[TextLine]) -> tuple[float, int]:
    """(character-weighted mean confidence, character count) of a recognition result."""
    chars = 0
    total = 0.0
    for line in lines:
        for word in line.words:
            n = len(word.text.strip())
            chars += n
            total += n * word.confidence
    return (total / chars if chars else 0.0), chars


def mostly_vertical(boxes: Sequence[Quad]) -> bool:
    """True when most detected text boxes are tall and thin: the page is probably turned by 90 degrees."""
    if len(boxes) < 2:
        return False

    def side(a: Point, b: Point) -> float:
        return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)

    tall = sum(1 for q in boxes if side(q[0], q[3]) > 1.5 * side(q[0], q[1]))
    wide = sum(1 for q in boxes if side(q[0], q[1]) > 1.5 * side(q[0], q[3]))
    return tall > wide and tall >= 0.5 * len(boxes)


LOW_CONFIDENCE = 0.85  # below this character-weighted confidence an upright reading is doubted


def best_orientation(
    image: Image.Image,
    run: Callable[[Image.Image], list[TextLine]],
    boxes_of: Callable[[list[TextLine]], list[Quad]] | None = None,
) -> tuple[int, list[TextLine]]:
    """Read the page upright; when the result looks sideways or unsure, try other rotations and keep the best.

    Pages whose text boxes are mostly tall are tried at 90 and 270 degrees; upright pages whose confidence is
    below LOW_CONFIDENCE are tried at 180 degrees. A rotation wins only with clearly better confidence.
    """
    lines = run(image)
    boxes = boxes_of(lines) if boxes_of else [ln.points for ln in lines]
    conf, chars = quality(lines)
    if mostly_vertical(boxes):
        # Recognisers turn tall crops a quarter turn counter-clockwise: a good upright reading of a sideways
        # page means the page wants that turn (90); a poor one means the other way (270). Try that one first.
        candidates = [90, 270] if conf >= 0.8 else [270, 90]
    elif chars == 0 or conf < LOW_CONFIDENCE:
        candidates = [180]
    else:
        return 0, lines
    # A sideways page is never kept as it is (its reading order would be wrong); an unsure upright page
    # is turned only when the turned reading is clearly better.
    sideways = 90 in candidates
    best_angle, best_lines, best_score = 0, lines, (-1.0 if sideways else conf)
    for angle in candidates:
        if sideways and best_score >= LOW_CONFIDENCE:
            break
        other = run(rotate_image(image, angle))
        other_conf, other_chars = quality(other)
        score = other_conf if other_chars >= 0.5 * chars else other_conf * other_chars / max(chars, 1)
        if score > best_score + (0.0 if sideways else 0.02):
            best_angle, best_lines, best_score = angle, other, score
    return best_angle, best_lines
