from __future__ import annotations

import json

import pytest

from upstage_ocr.models import (
    RawWord,
    assemble,
    box_page_json,
    build_page,
    order_clockwise,
    page_json,
    parse_result,
)

CAPTURES = ["check_box.json", "dpi_150.json", "multi_page.json", "reciepts.json"]


@pytest.mark.parametrize("name", CAPTURES)
def test_real_capture_round_trips_unchanged(fixtures_dir, name):
    original = json.loads((fixtures_dir / name).read_text(encoding="utf-8"))
    result = parse_result(original)
    assert result.to_json_dict() == original
    # and the JSON text has the same numbers (ints stay ints)
    assert json.loads(result.model_dump_json()) == original


@pytest.mark.parametrize("name", CAPTURES)
def test_assembly_rules_reproduce_the_api(fixtures_dir, name):
    """Our assembly (page ids, global word ids, doc confidence, text join) gives what the API gave."""
    original = parse_result(json.loads((fixtures_dir / name).read_text(encoding="utf-8")))
    rebuilt = assemble(original.pages, original.modelVersion, original.numBilledPages)
    assert rebuilt.to_json_dict() == original.to_json_dict()


def test_multi_page_word_ids_are_global(fixtures_dir):
    result = parse_result(json.loads((fixtures_dir / "multi_page.json").read_text()))
    ids = [w.id for p in result.pages for w in p.words]
    assert ids == list(range(len(ids)))
    assert [p.id for p in result.pages] == [0, 1, 2]
    assert result.confidence == min(p.confidence for p in result.pages)


def test_build_page_joins_lines_like_upstage():
    words = [
        RawWord(text="Print", confidence=0.99, points=[(65, 52), (221, 55), (221, 104), (64, 101)], line=0),
        RawWord(text="the", confidence=0.98, points=[(230, 52), (300, 52), (300, 104), (230, 104)], line=0),
        RawWord(
            text="hello,", confidence=0.97, points=[(65, 150), (200, 150), (200, 200), (65, 200)], line=1
        ),
        RawWord(
            text="world", confidence=0.96, points=[(210, 150), (300, 150), (300, 200), (210, 200)], line=1
        ),
    ]
    page = build_page(0, 786, 256, words, first_word_id=7)
    assert page.text == "Print the \nhello, world"
    assert [w.id for w in page.words] == [7, 8, 9, 10]
    assert page.confidence == round((0.99 + 0.98 + 0.97 + 0.96) / 4, 4)
    assert page.words[0].boundingBox.vertices[0].model_dump() == {"x": 65, "y": 52}


@pytest.mark.parametrize("seed", range(5))
def test_box_page_json_is_build_page_as_json(seed):
    """The text layer's pages are built as data and stored without models: the same page, the same JSON."""
    import random

    rng = random.Random(seed)
    words, raw = [], []
    for i in range(rng.randint(0, 40)):
        x0, y0 = rng.randint(0, 700), rng.randint(0, 900)
        x1, y1 = x0 + rng.randint(1, 90), y0 + rng.randint(1, 30)  # (order_clockwise sorts flat boxes oddly)
        text, line = (
            rng.choice(["a", "Été", "123번지", "我们的", "(INV-42)", 'say "hi"', "C:\\dir", "\u2028"]),
            i // 4,
        )
        words.append((text, line, x0, y0, x1, y1))
        raw.append(
            RawWord(text=text, confidence=1.0, points=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)], line=line)
        )
    made = box_page_json(3, 800, 950, words, source="text-layer")
    built = build_page(3, 800, 950, raw, first_word_id=0, source="text-layer")
    assert made.page() == built
    assert page_json(made) == page_json(built) == built.model_dump_json()


def test_vertices_are_clockwise_from_top_left_whatever_the_input_order():
    assert order_clockwise([(10, 20), (0, 0), (10, 0), (0, 20)]) == [(0, 0), (10, 0), (10, 20), (0, 20)]


def test_v2_shape_is_converted_to_pixels():
    data = {
        "api": "2.0",
        "model": "ocr-250904",
        "pages": [
            {
                "id": 0,
                "text": "Hi",
                "words": [
                    {
                        "id": 0,
                        "text": "Hi",
                        "confidence": 0.9,
                        "bounding_box": {
                            "vertices": [
                                {"x": 0.1, "y": 0.2},
                                {"x": 0.5, "y": 0.2},
                                {"x": 0.5, "y": 0.4},
                                {"x": 0.1, "y": 0.4},
                            ]
                        },
                    }
                ],
            }
        ],
        "usage": {"pages": 1},
    }
    result = parse_result(data, page_sizes=[(1000, 500)])
    assert result.apiVersion == "1.1"
    assert result.modelVersion == "ocr-250904"
    assert result.numBilledPages == 1
    page = result.pages[0]
    assert (page.width, page.height) == (1000, 500)
    assert [(v.x, v.y) for v in page.words[0].boundingBox.vertices] == [
        (100, 100),
        (500, 100),
        (500, 200),
        (100, 200),
    ]
    assert result.text == "Hi"
