"""to_clova / to_google / convert: structure, counts, line breaks and coordinates from the real results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from upstage_ocr.errors import ConfigError
from upstage_ocr.models import OCRResult, parse_result
from upstage_ocr.output import schemas

FIXTURES = ["check_box", "dpi_150", "multi_page", "reciepts"]


def load(fixtures_dir: Path, name: str) -> OCRResult:
    return parse_result(json.loads((fixtures_dir / f"{name}.json").read_text(encoding="utf-8")))


def line_count(page) -> int:
    return len([ln for ln in page.text.split("\n") if ln.strip()]) if page.words else 0


@pytest.mark.parametrize("name", FIXTURES)
def test_clova(fixtures_dir, name):
    result = load(fixtures_dir, name)
    out = schemas.to_clova(result)
    json.dumps(out)  # plain JSON
    assert out["version"] == "V2" and out["requestId"] and isinstance(out["timestamp"], int)
    assert len(out["images"]) == len(result.pages)
    for index, (image, page) in enumerate(zip(out["images"], result.pages, strict=True)):
        assert set(image) == {
            "uid",
            "name",
            "inferResult",
            "message",
            "validationResult",
            "convertedImageInfo",
            "fields",
        }
        assert image["inferResult"] == "SUCCESS" and image["validationResult"] == {"result": "NO_REQUESTED"}
        assert image["convertedImageInfo"] == {
            "width": page.width,
            "height": page.height,
            "pageIndex": index,
            "longImage": False,
        }
        fields = image["fields"]
        assert len(fields) == len(page.words)
        assert sum(f["lineBreak"] for f in fields) == line_count(page)
        assert fields[-1]["lineBreak"] is True
        for f, w in zip(fields, page.words, strict=True):
            assert f["valueType"] == "ALL" and f["type"] == "NORMAL"
            assert f["inferText"] == w.text and f["inferConfidence"] == round(w.confidence, 4)
            verts = f["boundingPoly"]["vertices"]
            assert all(isinstance(v["x"], float) and isinstance(v["y"], float) for v in verts)
            assert [(v["x"], v["y"]) for v in verts] == [(v.x, v.y) for v in w.boundingBox.vertices]
        # the texts with line breaks rebuild the page text
        rebuilt, line = [], []
        for f in fields:
            line.append(f["inferText"])
            if f["lineBreak"]:
                rebuilt.append(" ".join(line))
                line = []
        assert " \n".join(rebuilt) == page.text


def test_clova_deterministic_ids():
    result = OCRResult(confidence=0, modelVersion="x", numBilledPages=0, text="")
    out = schemas.to_clova(result, request_id="r1", timestamp=5)
    assert out == {"version": "V2", "requestId": "r1", "timestamp": 5, "images": []}


@pytest.mark.parametrize("name", FIXTURES)
def test_google(fixtures_dir, name):
    result = load(fixtures_dir, name)
    out = schemas.to_google(result)
    json.dumps(out)
    responses = out["responses"]
    assert len(responses) == len(result.pages)
    for index, (resp, page) in enumerate(zip(responses, result.pages, strict=True)):
        assert resp["context"] == {"pageNumber": index + 1}
        ann = resp["textAnnotations"]
        assert len(ann) == len(page.words) + 1
        full = ann[0]
        assert full["description"] == page.text.replace(" \n", "\n") + "\n"
        xs = [v.x for w in page.words for v in w.boundingBox.vertices]
        ys = [v.y for w in page.words for v in w.boundingBox.vertices]
        assert full["boundingPoly"]["vertices"][0] == {"x": min(xs), "y": min(ys)}
        assert full["boundingPoly"]["vertices"][2] == {"x": max(xs), "y": max(ys)}
        for a, w in zip(ann[1:], page.words, strict=True):
            assert a["description"] == w.text
            assert [(v["x"], v["y"]) for v in a["boundingPoly"]["vertices"]] == [
                (v.x, v.y) for v in w.boundingBox.vertices
            ]
        fta = resp["fullTextAnnotation"]
        assert fta["text"] == full["description"]
        (gpage,) = fta["pages"]
        assert (gpage["width"], gpage["height"]) == (page.width, page.height)
        assert gpage["confidence"] == page.confidence
        gwords = [w for b in gpage["blocks"] for p in b["paragraphs"] for w in p["words"]]
        assert len(gwords) == len(page.words)
        assert all(b["blockType"] == "TEXT" and 0 <= b["confidence"] <= 1 for b in gpage["blocks"])
        eol = 0
        for gw, w in zip(gwords, page.words, strict=True):
            assert "".join(s["text"] for s in gw["symbols"]) == w.text
            assert gw["confidence"] == round(w.confidence, 4)
            assert gw["boundingBox"] == {"vertices": [{"x": v.x, "y": v.y} for v in w.boundingBox.vertices]}
            eol += gw["symbols"][-1]["property"]["detectedBreak"]["type"] == "EOL_SURE_SPACE"
        assert eol == line_count(page)


def test_google_locale(fixtures_dir):
    result = load(fixtures_dir, "multi_page")
    locales = [r["textAnnotations"][0]["locale"] for r in schemas.to_google(result)["responses"]]
    assert locales == ["en", "ko", "en"]
    assert schemas.detect_locale("東京") == "zh" and schemas.detect_locale("ひらがな") == "ja"


def test_convert(fixtures_dir):
    result = load(fixtures_dir, "reciepts")
    assert schemas.convert(result, None) == json.loads(
        (fixtures_dir / "reciepts.json").read_text(encoding="utf-8")
    )
    assert schemas.convert(result, "")["apiVersion"] == "1.1"
    assert "images" in schemas.convert(result, "clova")
    assert "responses" in schemas.convert(result, "Google")
    with pytest.raises(ConfigError, match="clova or google"):
        schemas.convert(result, "aws")
