"""The one result shape every engine returns: Upstage's Document OCR response (apiVersion 1.1, pixel boxes).

Also the assembly rules that make any engine's words look exactly like the API's output (page text joins,
global word ids, confidences), and the reader for the other documented shape (`api: "2.0"`, normalized
snake_case boxes), converted to this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "1.1"
MIME_TYPE = "multipart/form-data"


class _Model(BaseModel):
    # Unknown fields the API may add are kept and written back, so a result round-trips unchanged.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Vertex(_Model):
    x: int | float
    y: int | float


class BoundingBox(_Model):
    vertices: list[Vertex] = Field(default_factory=list)


class Word(_Model):
    boundingBox: BoundingBox
    confidence: float
    id: int
    text: str

    def bbox(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the word's vertices."""
        xs = [v.x for v in self.boundingBox.vertices] or [0]
        ys = [v.y for v in self.boundingBox.vertices] or [0]
        return (min(xs), min(ys), max(xs), max(ys))


class Page(_Model):
    confidence: float
    height: int
    id: int
    text: str
    width: int
    words: list[Word] = Field(default_factory=list)


class PageMeta(_Model):
    height: int
    page: int
    width: int


class Metadata(_Model):
    pages: list[PageMeta] = Field(default_factory=list)


class OCRResult(_Model):
    apiVersion: str = API_VERSION
    confidence: float
    metadata: Metadata = Field(default_factory=Metadata)
    mimeType: str = MIME_TYPE
    modelVersion: str
    numBilledPages: int
    pages: list[Page] = Field(default_factory=list)
    stored: bool = False
    text: str

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --------------------------------------------------------------------------------------------------
# Assembly: the rules the real API follows, computed once for every engine.


class RawWord(BaseModel):
    """One word as an engine sees it: text, confidence 0..1, four (x, y) pixel points and the line it is in."""

    text: str
    confidence: float
    points: list[tuple[float, float]]
    line: int = 0


def _round_conf(value: float) -> float:
    return round(float(value), 4)


def order_clockwise(points: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """Four integer vertices clockwise from top-left, as Upstage writes them."""
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) == 4:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = pts
        if ax == dx < bx == cx and ay == by < cy == dy:  # an upright box, already clockwise from top-left
            return [
                (round(ax), round(ay)),
                (round(bx), round(by)),
                (round(cx), round(cy)),
                (round(dx), round(dy)),
            ]
    if len(pts) != 4:
        xs = [p[0] for p in pts] or [0.0]
        ys = [p[1] for p in pts] or [0.0]
        pts = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
    # top-left = smallest x+y; then go clockwise (screen coordinates, y down) by angle around the centre.
    import math

    cx = sum(p[0] for p in pts) / 4
    cy = sum(p[1] for p in pts) / 4
    pts.sort(key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    start = min(range(4), key=lambda i: pts[i][0] + pts[i][1])
    pts = pts[start:] + pts[:start]
    return [(round(x), round(y)) for x, y in pts]


def clamp_points(points: Iterable[tuple[float, float]], width: int, height: int) -> list[tuple[float, float]]:
    return [(min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))) for x, y in points]


def page_text(lines: Sequence[Sequence[str]]) -> str:
    """Words of a line joined by a space; every line but the last ends with " \\n"."""
    return " \n".join(" ".join(words) for words in lines if words)


def _lines_text(words: Iterable[tuple[str, int]]) -> str:
    """`page_text` of (text, line number) words in reading order: a new line wherever the number changes."""
    lines: list[list[str]] = []
    current_line: int | None = None
    for text, line in words:
        if line != current_line:
            lines.append([])
            current_line = line
        lines[-1].append(text)
    return page_text(lines)


def build_page(
    page_id: int,
    width: int,
    height: int,
    words: Sequence[RawWord],
    first_word_id: int,
    source: str | None = None,
) -> Page:
    """A Page from one page's engine words (already in reading order, each tagged with its line number).

    `source` (`TEXT_LAYER` or `OCR`) is kept with the page for its metadata (see `page_source`)."""
    # The page is made as plain data and validated once: far cheaper than a model per word and vertex.
    out: list[dict[str, Any]] = []
    for offset, w in enumerate(words):
        pts = order_clockwise(clamp_points(w.points, width, height))
        out.append(
            {
                "boundingBox": {"vertices": [{"x": x, "y": y} for x, y in pts]},
                "confidence": _round_conf(w.confidence),
                "id": first_word_id + offset,
                "text": w.text,
            }
        )
    conf = _round_conf(sum(w["confidence"] for w in out) / len(out)) if out else 0.0
    extra = {"source": source} if source is not None else {}
    text = _lines_text((w.text, w.line) for w in words)
    data = {"confidence": conf, "height": height, "id": page_id, "text": text, "width": width}
    return Page.model_validate({**data, "words": out, **extra})


@dataclass(frozen=True, slots=True)
class PageJSON:
    """A page as the JSON text the job store keeps (the `Page` shape, plus "source"): what the text layer
    makes, valid by construction, so it is stored as it is and never becomes models on the way."""

    text: str

    def page(self) -> Page:
        return Page.model_validate_json(self.text)


_WORD_JSON = (
    '{"boundingBox":{"vertices":[{"x":%d,"y":%d},{"x":%d,"y":%d},{"x":%d,"y":%d},{"x":%d,"y":%d}]},'
    '"confidence":1.0,"id":%d,"text":%s}'
)


def box_page_json(
    page_id: int,
    width: int,
    height: int,
    words: Sequence[tuple[str, int, int, int, int, int]],
    source: str | None = None,
) -> PageJSON:
    """`build_page` for words with upright integer boxes and confidence 1.0, written straight as its JSON:
    `words` are (text, line, left, top, right, bottom), in reading order, boxes already within the page.

    The text is what `build_page(...).model_dump_json()` gives for the same words (a page of 200 words is a
    thousand dicts and lists as data: made, collected and serialised, they cost more than the page's text).
    """
    from json.encoder import encode_basestring  # the C one: escapes as pydantic's JSON does, non-ASCII kept

    parts = [
        _WORD_JSON % (x0, y0, x1, y0, x1, y1, x0, y1, offset, encode_basestring(text))
        for offset, (text, _line, x0, y0, x1, y1) in enumerate(words)
    ]
    confidence = "1.0" if parts else "0.0"
    text = _lines_text((w[0], w[1]) for w in words)
    head = (
        f'{{"confidence":{confidence},"height":{height},"id":{page_id},'
        f'"text":{encode_basestring(text)},"width":{width},"words":['
    )
    tail = "]}" if source is None else f'],"source":{encode_basestring(source)}}}'
    return PageJSON(head + ",".join(parts) + tail)


def as_page(page: Page | PageJSON) -> Page:
    """A `Page` of a page or its JSON."""
    return page if isinstance(page, Page) else page.page()


def page_json(page: BaseModel | PageJSON) -> str:
    """A page as the job store keeps it: `model_dump_json` of a `Page` (or a parse job's page), or the text of
    a `PageJSON`."""
    return page.text if isinstance(page, PageJSON) else page.model_dump_json()


TEXT_LAYER = "text-layer"  # a page read from the PDF's own text layer (`source` in its page metadata)
OCR = "ocr"  # a page a local engine recognised


def page_source(page: Page) -> str | None:
    """Where a local engine's page came from (`TEXT_LAYER` or `OCR`), kept with the stored page; None if unknown.

    The result JSON carries it in `metadata.pages[i].source`, not in the page itself (the API's page shape).
    """
    value = (page.__pydantic_extra__ or {}).get("source")
    return value if isinstance(value, str) else None


def page_meta(page: Page | dict[str, Any], number: int) -> dict[str, Any]:
    """`metadata.pages[i]` of a page (a `Page`, or its JSON data as the job store keeps it): height, page
    (1-based), width, and `source` when it is known."""
    if isinstance(page, dict):
        height, width, source = page["height"], page["width"], page.get("source")
    else:
        height, width, source = page.height, page.width, page_source(page)
    meta: dict[str, Any] = {"height": height, "page": number, "width": width}
    if isinstance(source, str):
        meta["source"] = source
    return meta


def assemble(pages: Sequence[Page], model_version: str, billed_pages: int = 0) -> OCRResult:
    """The document from its pages: ids renumbered in order, confidence the minimum page confidence.

    Page ids become 0..n-1 and word ids run on across pages, as the sync API numbers them. The document
    confidence is the minimum of the page confidences (the rule the one real multi-page capture follows);
    `text` is the plain concatenation of page texts.
    """
    renumbered: list[Page] = []
    next_word = 0
    for index, page in enumerate(pages):
        words = [w.model_copy(update={"id": next_word + i}) for i, w in enumerate(page.words)]
        next_word += len(words)
        renumbered.append(page.model_copy(update={"id": index, "words": words}))
    confidences = [p.confidence for p in renumbered if p.words]
    metas = [PageMeta.model_validate(page_meta(p, i + 1)) for i, p in enumerate(renumbered)]
    for p in renumbered:
        if p.__pydantic_extra__:
            p.__pydantic_extra__.pop("source", None)  # said in the metadata, not in the page
    return OCRResult(
        confidence=min(confidences) if confidences else 0.0,
        metadata=Metadata(pages=metas),
        modelVersion=model_version,
        numBilledPages=billed_pages,
        pages=renumbered,
        text="".join(p.text for p in renumbered),
    )


# --------------------------------------------------------------------------------------------------
# Reading whatever the API returns.


def _is_v2(data: dict[str, Any]) -> bool:
    return "apiVersion" not in data and ("api" in data or "usage" in data or "model" in data)


def _v2_vertex(v: dict[str, Any], width: int | None, height: int | None) -> Vertex:
    x, y = float(v.get("x", 0.0)), float(v.get("y", 0.0))
    normalized = 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
    if normalized and width and height:
        return Vertex(x=round(x * width), y=round(y * height))
    if not normalized:
        return Vertex(x=round(x), y=round(y))
    return Vertex(x=x, y=y)  # normalized and the page size is unknown: keep the ratios


def from_v2(data: dict[str, Any], page_sizes: Sequence[tuple[int, int]] | None = None) -> OCRResult:
    """Convert the `api: "2.0"` shape (model, usage.pages, snake_case bounding_box, 0..1 coordinates)."""
    pages: list[Page] = []
    meta_pages = {
        int(m.get("page", i + 1)) - 1: m for i, m in enumerate((data.get("metadata") or {}).get("pages", []))
    }
    for index, raw in enumerate(data.get("pages") or []):
        pid = int(raw.get("id", index))
        width = raw.get("width") or (meta_pages.get(pid) or {}).get("width")
        height = raw.get("height") or (meta_pages.get(pid) or {}).get("height")
        if (not width or not height) and page_sizes and pid < len(page_sizes):
            width, height = page_sizes[pid]
        words = []
        for j, w in enumerate(raw.get("words") or []):
            box = w.get("boundingBox") or w.get("bounding_box") or {}
            verts = [_v2_vertex(v, width, height) for v in box.get("vertices", [])]
            words.append(
                Word(
                    boundingBox=BoundingBox(vertices=verts),
                    confidence=float(w.get("confidence", 0.0)),
                    id=int(w.get("id", j)),
                    text=str(w.get("text", "")),
                )
            )
        conf = raw.get("confidence")
        if conf is None:
            conf = _round_conf(sum(w.confidence for w in words) / len(words)) if words else 0.0
        pages.append(
            Page(
                confidence=float(conf),
                height=int(height or 0),
                id=pid,
                text=str(raw.get("text", "")),
                width=int(width or 0),
                words=words,
            )
        )
    usage = data.get("usage") or {}
    billed = usage.get("pages", len(pages)) if isinstance(usage, dict) else len(pages)
    confs = [p.confidence for p in pages if p.words]
    return OCRResult(
        apiVersion=API_VERSION,
        confidence=float(data.get("confidence", min(confs) if confs else 0.0)),
        metadata=Metadata(
            pages=[PageMeta(height=p.height, page=i + 1, width=p.width) for i, p in enumerate(pages)]
        ),
        modelVersion=str(data.get("model") or data.get("modelVersion") or "ocr"),
        numBilledPages=int(billed),
        pages=pages,
        stored=bool(data.get("stored", False)),
        text=str(data.get("text") or "".join(p.text for p in pages)),
    )


def parse_result(data: dict[str, Any], page_sizes: Sequence[tuple[int, int]] | None = None) -> OCRResult:
    """Parse an OCR response in either documented shape into the one model."""
    if _is_v2(data):
        return from_v2(data, page_sizes)
    return OCRResult.model_validate(data)
