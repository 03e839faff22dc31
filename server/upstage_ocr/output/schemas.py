"""The result in the other OCR APIs' shapes, as Upstage's `schema` parameter offers: NAVER CLOVA General OCR
(V2) and Google Cloud Vision (`images:annotate` TEXT_DETECTION / DOCUMENT_TEXT_DETECTION).

No Upstage source shows a real `schema=clova|google` response, so these follow the vendors' public formats
(docs/upstage-api.md section 5). Lines come from `Page.text` (the words of a page are in text order), so a
CLOVA `lineBreak` and a Google end-of-line break sit exactly where the API put its line breaks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..models import OCRResult, Page, Word
from . import reading


def convert(result: OCRResult, schema: str | None) -> dict[str, Any]:
    """`result` in `schema` ("clova", "google"), or the Upstage shape itself for None / ""."""
    if schema is None or not str(schema).strip():
        return result.to_json_dict()
    name = str(schema).strip().lower()
    if name == "clova":
        return to_clova(result)
    if name == "google":
        return to_google(result)
    raise ConfigError(f"unknown schema {schema!r}", hint="Choose clova or google, or leave it unset")


# --------------------------------------------------------------------------------------------------
# NAVER CLOVA General OCR V2


def _clova_vertices(word: Word) -> list[dict[str, float]]:
    verts = word.boundingBox.vertices
    if len(verts) != 4:
        x0, y0, x1, y1 = word.bbox()
        return [{"x": float(x), "y": float(y)} for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    return [{"x": float(v.x), "y": float(v.y)} for v in verts]


def to_clova(
    result: OCRResult, *, request_id: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """CLOVA General OCR V2: one `images[]` entry per page, one field per word, `lineBreak` ending a line."""
    images = []
    for index, page in enumerate(result.pages):
        fields = []
        for line in reading.text_lines(page):
            for k, word in enumerate(line):
                fields.append(
                    {
                        "valueType": "ALL",
                        "boundingPoly": {"vertices": _clova_vertices(word)},
                        "inferText": word.text,
                        "inferConfidence": round(float(word.confidence), 4),
                        "type": "NORMAL",
                        "lineBreak": k == len(line) - 1,
                    }
                )
        images.append(
            {
                "uid": uuid.uuid4().hex,
                "name": f"page_{index + 1}",
                "inferResult": "SUCCESS",
                "message": "SUCCESS",
                "validationResult": {"result": "NO_REQUESTED"},
                "convertedImageInfo": {
                    "width": page.width,
                    "height": page.height,
                    "pageIndex": index,
                    "longImage": False,
                },
                "fields": fields,
            }
        )
    return {
        "version": "V2",
        "requestId": request_id or str(uuid.uuid4()),
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        "images": images,
    }


# --------------------------------------------------------------------------------------------------
# Google Cloud Vision


def _poly(word: Word) -> dict[str, Any]:
    verts = word.boundingBox.vertices
    if len(verts) == 4:
        return {"vertices": [{"x": round(v.x), "y": round(v.y)} for v in verts]}
    return _rect(word.bbox())


def _rect(box: Sequence[float]) -> dict[str, Any]:
    x0, y0, x1, y1 = (round(v) for v in box)
    return {"vertices": [{"x": x0, "y": y0}, {"x": x1, "y": y0}, {"x": x1, "y": y1}, {"x": x0, "y": y1}]}


def detect_locale(text: str) -> str:
    """A BCP-47 language guess from the dominant script: ko (Hangul), ja (kana), zh (Han), else en.

    A Hangul, kana or Han character counts as two Latin letters (it carries about a word's worth more).
    """
    counts = {"ko": 0, "ja": 0, "zh": 0, "en": 0}
    for ch in text:
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            counts["ko"] += 2
        elif 0x3040 <= code <= 0x30FF:
            counts["ja"] += 2
        elif 0x4E00 <= code <= 0x9FFF:
            counts["zh"] += 2
        elif ch.isalpha():
            counts["en"] += 1
    if counts["ja"] and counts["ja"] + counts["zh"] >= counts["en"] and counts["ja"] >= counts["ko"]:
        return "ja"  # Japanese mixes kana with Han
    return max(counts, key=lambda k: (counts[k], k == "en"))


def _paragraphs(lines: list[list[Word]]) -> list[list[list[Word]]]:
    """Consecutive text lines grouped into blocks where the vertical gap is larger than the usual spacing."""
    if not lines:
        return []
    boxes = [reading.union_bbox(line) for line in lines]
    heights = sorted(b[3] - b[1] for b in boxes)
    unit = heights[len(heights) // 2] or 1.0
    gaps = sorted(boxes[i + 1][1] - boxes[i][3] for i in range(len(boxes) - 1))
    gaps = [g for g in gaps if g >= 0]
    typical = gaps[len(gaps) // 2] if gaps else 0.3 * unit
    threshold = max(1.6 * typical, typical + 0.5 * unit)
    out = [[lines[0]]]
    for i in range(1, len(lines)):
        gap = boxes[i][1] - boxes[i - 1][3]
        if gap > threshold or boxes[i][3] < boxes[i - 1][1]:
            out.append([lines[i]])
        else:
            out[-1].append(lines[i])
    return out


def _google_page(page: Page, index: int) -> dict[str, Any]:
    lines = reading.text_lines(page)
    text = "".join(reading.line_text(line) + "\n" for line in lines)
    words = [w for line in lines for w in line]
    locale = detect_locale(text)
    annotations: list[dict[str, Any]] = []
    if words:
        annotations.append(
            {"locale": locale, "description": text, "boundingPoly": _rect(reading.union_bbox(words))}
        )
        annotations.extend({"description": w.text, "boundingPoly": _poly(w)} for w in words)
    blocks = []
    for para in _paragraphs(lines):
        para_words = [w for line in para for w in line]
        gwords = []
        for line in para:
            for k, w in enumerate(line):
                chars = list(w.text) or [" "]
                symbols: list[dict[str, Any]] = [{"text": ch} for ch in chars]
                last_break = "EOL_SURE_SPACE" if k == len(line) - 1 else "SPACE"
                symbols[-1]["property"] = {"detectedBreak": {"type": last_break}}
                gwords.append(
                    {
                        "property": {"detectedLanguages": [{"languageCode": detect_locale(w.text)}]},
                        "boundingBox": _poly(w),
                        "symbols": symbols,
                        "confidence": round(float(w.confidence), 4),
                    }
                )
        conf = round(sum(w.confidence for w in para_words) / len(para_words), 4) if para_words else 0.0
        box = _rect(reading.union_bbox(para_words))
        blocks.append(
            {
                "boundingBox": box,
                "paragraphs": [{"boundingBox": box, "words": gwords, "confidence": conf}],
                "blockType": "TEXT",
                "confidence": conf,
            }
        )
    return {
        "textAnnotations": annotations,
        "fullTextAnnotation": {
            "pages": [
                {
                    "property": {"detectedLanguages": [{"languageCode": locale}]},
                    "width": page.width,
                    "height": page.height,
                    "blocks": blocks,
                    "confidence": round(float(page.confidence), 4),
                }
            ],
            "text": text,
        },
        "context": {"pageNumber": index + 1},
    }


def to_google(result: OCRResult) -> dict[str, Any]:
    """Google Vision `{"responses": [...]}`, one AnnotateImageResponse per page.

    `textAnnotations[0]` is the page's full text (lines ending in "\\n") with its locale and the box around
    every word; one entry per word follows. `fullTextAnnotation` has blocks of paragraphs of words of
    symbols, the last symbol of each word carrying its break (SPACE, or EOL_SURE_SPACE at the end of a line).
    """
    return {"responses": [_google_page(page, i) for i, page in enumerate(result.pages)]}
