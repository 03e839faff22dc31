"""search(): exact, case-insensitive, OCR slips, across lines, ranking, no hits, and a 1,000-page timing."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from upstage_ocr.errors import InputError
from upstage_ocr.models import OCRResult, Page, RawWord, build_page, parse_result
from upstage_ocr.output.search import Hit, search


def load(fixtures_dir: Path, name: str) -> OCRResult:
    return parse_result(json.loads((fixtures_dir / f"{name}.json").read_text(encoding="utf-8")))


def page_of(lines: list[list[str]], conf: float = 0.9) -> Page:
    raw = []
    for li, texts in enumerate(lines):
        for k, t in enumerate(texts):
            x, y = 20 + k * 120, 20 + li * 50
            raw.append(
                RawWord(
                    text=t,
                    confidence=conf,
                    points=[(x, y), (x + 100, y), (x + 100, y + 40), (x, y + 40)],
                    line=li,
                )
            )
    return build_page(0, 1000, 50 * len(lines) + 40, raw, 0)


def test_exact_and_case_insensitive(fixtures_dir):
    result = load(fixtures_dir, "reciepts")
    hits = search(result.pages, "ursula")
    assert len(hits) == 1
    hit = hits[0]
    assert isinstance(hit, Hit)
    assert (hit.page, hit.text, hit.score, hit.exact) == (1, "Ursula", 100.0, True)
    assert hit.line == "Es bediente Sie: Ursula"
    word = next(w for w in result.pages[0].words if w.text == "Ursula")
    assert hit.word_ids == [word.id]
    assert hit.box == word.bbox()
    assert hit.confidence == word.confidence
    assert [(v.x, v.y) for v in hit.vertices] == [
        (hit.box[0], hit.box[1]),
        (hit.box[2], hit.box[1]),
        (hit.box[2], hit.box[3]),
        (hit.box[0], hit.box[3]),
    ]


def test_slips_in_the_real_receipt(fixtures_dir):
    """The receipt reads "Grinde / wa ld", "Gr osse Sche idegg", "Fami lie R. Mu 1 ler": split and misread."""
    result = load(fixtures_dir, "reciepts")
    found = {}
    for query in ("Grindelvald", "Grindelwald", "Grosse Scheidegg", "Familie R. Muller", "Schweinschnitzel"):
        hits = search(result.pages, query, limit=3)
        found[query] = [(h.text, h.score, h.exact) for h in hits]
        print(f"{query!r}: {found[query]}")
    assert found["Grindelvald"][0][0] == "Grinde / wa ld" and found["Grindelvald"][0][1] >= 80
    assert (
        found["Grindelwald"][0][0] == "Grinde / wa ld"
        and found["Grindelwald"][0][1] > found["Grindelvald"][0][1]
    )
    # same letters, split by OCR: an exact-letters match (99), above any fuzzy one
    assert found["Grosse Scheidegg"][0] == ("Gr osse Sche idegg", 99.0, True)
    assert found["Familie R. Muller"][0][0] == "Fami lie R. Mu 1 ler"
    assert found["Schweinschnitzel"][0] == ("1xSchweinschnitzel", 99.5, True)  # inside a longer word
    hit = search(result.pages, "Grindelvald")[0]
    assert hit.line == "38 18 Grinde / wa ld"
    assert len(hit.word_ids) == 4


def test_across_a_line_break(fixtures_dir):
    result = load(fixtures_dir, "multi_page")
    # page 1: "... wondering where thery would go. \n(FT 4) The curious ..."
    hits = search(result.pages, "would go. (FT 4)")
    assert hits[0].page == 1 and hits[0].exact
    assert hits[0].text == "would go.\n(FT 4)"
    assert "\n" in hits[0].line and hits[0].line.startswith("(FT3)")
    page = page_of([["the", "quick", "brown"], ["fox", "jumps"]])
    (hit,) = search([page], "brown fox")
    assert hit.text == "brown\nfox" and hit.line == "the quick brown\nfox jumps"
    assert hit.box == (20, 20, 360, 110)  # encloses both lines' words


def test_korean(fixtures_dir):
    result = load(fixtures_dir, "multi_page")
    hits = search(result.pages, "타코야키 만드는 방법")
    assert hits[0].page == 2 and hits[0].score == 100.0
    assert search(result.pages, "타코야끼")[0].text == "타코야키"  # one syllable off


def test_ranking_exact_before_fuzzy_and_no_overlaps():
    pages = [
        page_of([["invoice", "totl", "12.00"]]),
        page_of([["INVOICE", "TOTAL", "15.00"]]),
        page_of([["invoice", "to", "tal", "9.00"]]),
    ]
    hits = search(pages, "invoice total")
    assert [(h.page, h.score, h.exact) for h in hits] == [(2, 100.0, True), (3, 99.0, True), (1, 95.7, False)]
    assert len({(h.page, tuple(h.word_ids)) for h in hits}) == 3
    # one hit per place: overlapping windows of the same page keep only the best
    assert [h.text for h in hits] == ["INVOICE TOTAL", "invoice to tal", "invoice totl"]
    assert len(search(pages, "invoice total", limit=2)) == 2
    # a whole word beats the same letters inside a longer word, even on a later page
    words = search([page_of([["they", "whether"]]), page_of([["and", "the", "cat"]])], "the")
    assert [(h.page, h.text, h.score) for h in words] == [
        (2, "the", 100.0),
        (1, "they", 99.5),
        (1, "whether", 99.5),
    ]


def test_no_hits_and_bad_queries(fixtures_dir):
    result = load(fixtures_dir, "reciepts")
    assert search(result.pages, "zebra crossing") == []
    assert search([], "anything") == []
    with pytest.raises(InputError):
        search(result.pages, "   ")
    with pytest.raises(InputError):
        search(result.pages, "x", limit=0)
    # letters split over two words only count on word boundaries: "publi c at tention" holds no "cat"
    assert search([page_of([["public", "attention"]])], "cat") == []


def test_punctuation_query_and_min_score(fixtures_dir):
    result = load(fixtures_dir, "check_box")
    hits = search(result.pages, "□", limit=50)
    assert hits and all(h.exact and "□" in h.text for h in hits)
    strict = search(load(fixtures_dir, "reciepts").pages, "Grindelvald", min_score=95)
    assert strict == []


def test_thousand_pages_timing():
    random.seed(7)
    vocab = [
        "the",
        "curious",
        "cat",
        "watched",
        "raindrops",
        "race",
        "down",
        "windowpane",
        "wondering",
        "where",
        "they",
        "would",
        "go",
        "invoice",
        "total",
        "amount",
        "payment",
        "due",
        "date",
        "customer",
        "account",
        "number",
        "reference",
    ]
    base = [page_of([[random.choice(vocab) for _ in range(10)] for _ in range(25)]) for _ in range(20)]
    pages = [base[i % 20] for i in range(1000)]
    pages[777] = page_of([["welcome", "to", "Grinde", "wald", "station"]])
    timings = {}
    for query in ("Grindelwald", "zebra crossing", "the", "payment due date", "invoice totl"):
        start = time.perf_counter()
        hits = search(pages, query)
        timings[query] = (round(time.perf_counter() - start, 3), len(hits))
    print(f"1,000 pages x 250 words: {timings}")
    assert search(pages, "Grindelwald")[0].page == 778
