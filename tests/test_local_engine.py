"""The embedded engines on the shipped fixtures: the words a person reads, boxes around them, the API's shape.

The model-running tests share one engine (models load once) and stay at a handful of pages.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import anyio
import pytest
from PIL import Image, ImageDraw, ImageFont

from upstage_ocr import models
from upstage_ocr.engines import langs, tesseract
from upstage_ocr.engines.base import engine_names, get_engine
from upstage_ocr.engines.geometry import TextLine, TextWord, group_rows, map_point_back, quad_from_box
from upstage_ocr.errors import ConfigError
from upstage_ocr.inputs.documents import inspect_document, render_page
from upstage_ocr.jobs import local_backend
from upstage_ocr.jobs.local_backend import model_version_for, recognize_page, run_local_pages

pytestmark = pytest.mark.slow

_cache: dict[str, models.Page] = {}


@pytest.fixture(scope="module")
def engine():
    return get_engine("local")


def _page(engine, fixtures_dir, name: str, number: int = 1, lang: str | None = None) -> models.Page:
    key = f"{name}:{number}:{lang}"
    if key not in _cache:
        info = inspect_document(fixtures_dir / name)
        _cache[key] = recognize_page(engine, render_page(info, number), number - 1, lang)
    return _cache[key]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _golden_page(fixtures_dir, name: str, index: int = 0) -> models.Page:
    data = json.loads((fixtures_dir / name).read_text())
    return models.parse_result(data).pages[index]


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _matched_share(ours: models.Page, golden: models.Page) -> float:
    """Share of our words that overlap (IoU >= 0.3) a golden word with the same text (case-insensitive)."""
    by_text: dict[str, list] = {}
    for w in golden.words:
        by_text.setdefault(w.text.lower(), []).append(w.bbox())
    comparable = [w for w in ours.words if w.text.lower() in by_text]
    if not comparable:
        return 0.0
    hits = sum(1 for w in comparable if any(_iou(w.bbox(), g) >= 0.3 for g in by_text[w.text.lower()]))
    return hits / len(comparable)


# -- registry, cheap ------------------------------------------------------------------------------------


def test_engines_are_registered_without_loading_models():
    code = (
        "import sys; from upstage_ocr.engines.base import engine_names; print(engine_names()); "
        "print('rapidocr' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'local'" in out and "'tesseract'" in out and "'rapidocr'" in out
    assert out.strip().endswith("False False")
    assert {"local", "rapidocr", "tesseract"} <= set(engine_names())


def test_language_hints():
    assert langs.tesseract_lang("en") == "eng"
    assert langs.tesseract_lang("ko") == "kor"
    assert langs.tesseract_lang("kor+eng") == "kor+eng"
    assert langs.tesseract_lang("ko,en") == "kor+eng"
    assert langs.tesseract_lang(None) == "eng"
    assert all(langs.is_korean(x) for x in ("ko", "kor", "korean", "kor+eng", "en+ko"))
    assert not langs.is_korean("en") and not langs.is_korean(None)


def test_reading_order_groups_rows():
    def line(x, y, h, text):
        return TextLine(
            quad_from_box(x, y, x + 50, y + h), [TextWord(text, 1.0, quad_from_box(x, y, x + 50, y + h))]
        )

    rows = group_rows([line(300, 12, 20, "right"), line(10, 100, 20, "second"), line(10, 10, 20, "left")])
    assert [[ln.text for ln in row] for row in rows] == [["left", "right"], ["second"]]


def test_rotation_mapping_round_trips():
    img = Image.new("RGB", (40, 20))
    img.putpixel((3, 5), (255, 0, 0))
    for angle, transpose in (
        (90, Image.Transpose.ROTATE_90),
        (180, Image.Transpose.ROTATE_180),
        (270, Image.Transpose.ROTATE_270),
    ):
        rotated = img.transpose(transpose)
        ((x, y),) = [
            (x, y)
            for x in range(rotated.width)
            for y in range(rotated.height)
            if rotated.getpixel((x, y)) == (255, 0, 0)
        ]
        bx, by = map_point_back(x + 0.5, y + 0.5, angle, 40, 20)
        assert (int(bx), int(by)) == (3, 5)


def test_missing_tesseract_names_the_packages(monkeypatch):
    tesseract.find_binary.cache_clear()
    monkeypatch.setattr(tesseract, "_tesserocr", lambda: None)
    monkeypatch.setattr(tesseract, "find_binary", lambda: None)
    with pytest.raises(ConfigError, match="tesseract-ocr"):
        tesseract.TesseractEngine()


# -- the model on the fixtures ----------------------------------------------------------------------------


def test_check_box(engine, fixtures_dir):
    page = _page(engine, fixtures_dir, "check_box.png")
    assert "pizza toppings" in page.text.lower()
    for word in ("Bacon", "Brie", "Feta", "Mushrooms"):
        assert word.lower() in page.text.lower()
    golden = _golden_page(fixtures_dir, "check_box.json")
    assert (page.width, page.height) == (golden.width, golden.height)
    assert _matched_share(page, golden) >= 0.8


def test_receipt(engine, fixtures_dir):
    page = _page(engine, fixtures_dir, "reciepts.jpg")
    # The real API read "Grinde / wa ld"; a person reads "Grindelwald".
    assert "grindelwald" in _norm(page.text)
    assert "berghotel" in _norm(page.text)
    assert "macchiato" in _norm(page.text)
    golden = _golden_page(fixtures_dir, "reciepts.json")
    assert _matched_share(page, golden) >= 0.6


def test_boxes_lie_inside_the_page_around_their_words(engine, fixtures_dir):
    page = _page(engine, fixtures_dir, "check_box.png")
    assert page.words
    for w in page.words:
        left, top, right, bottom = w.bbox()
        assert 0 <= left < right <= page.width and 0 <= top < bottom <= page.height
        assert len(w.boundingBox.vertices) == 4
        assert all(isinstance(v.x, int) and isinstance(v.y, int) for v in w.boundingBox.vertices)
        assert 0.0 <= w.confidence <= 1.0
        # a word box is about as tall as a line of this size and wider for longer words
        assert 10 <= bottom - top <= 80
        assert right - left >= 6 * len(w.text) * 0.5


def test_result_validates_and_round_trips(engine, fixtures_dir):
    pages = [_page(engine, fixtures_dir, "check_box.png")]
    result = models.assemble(pages, model_version_for("local", None), billed_pages=1)
    assert result.modelVersion.startswith("local-rapidocr-")
    data = json.loads(json.dumps(result.to_json_dict()))
    assert models.parse_result(data) == result
    assert set(data) >= {
        "apiVersion",
        "confidence",
        "metadata",
        "mimeType",
        "modelVersion",
        "numBilledPages",
        "pages",
        "stored",
        "text",
    }
    assert [w["id"] for w in data["pages"][0]["words"]] == list(range(len(pages[0].words)))


@pytest.mark.parametrize("angle", [90, 180])
def test_rotated_pages_still_read(engine, fixtures_dir, angle):
    img = Image.open(fixtures_dir / "check_box.png").convert("RGB").rotate(angle, expand=True)
    page = recognize_page(engine, img, 0, None)
    assert "pizza toppings" in page.text.lower()
    assert (page.width, page.height) == img.size
    # boxes are in the frame of the image as given
    for w in page.words:
        left, top, right, bottom = w.bbox()
        assert 0 <= left <= right <= img.width and 0 <= top <= bottom <= img.height


def test_korean_page_of_the_pdf(engine, fixtures_dir):
    if "kor" not in tesseract.available_languages():
        pytest.skip("tesseract-ocr-kor is not installed")
    page = _page(engine, fixtures_dir, "multi_page.pdf", 2, "ko")
    text = _norm(page.text)
    for word in ("타코야키", "만드는", "방법", "재료를", "넣는다", "굽는다"):
        assert word in text
    assert model_version_for("local", "ko").startswith("local-rapidocr-")
    assert "tesseract" in model_version_for("local", "ko")


def test_synthetic_english_text(engine):
    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    try:
        font = ImageFont.truetype(font_path, 28)
    except OSError:
        pytest.skip("DejaVu fonts not installed")
    img = Image.new("RGB", (900, 200), "white")
    draw = ImageDraw.Draw(img)
    draw.text((20, 30), "Invoice number 4711 due 2025-03-01", font=font, fill="black")
    draw.text((20, 110), "Total amount: 129.90 EUR", font=font, fill="black")
    page = recognize_page(engine, img, 0, "en")
    assert page.text.split(" \n") == ["Invoice number 4711 due 2025-03-01", "Total amount: 129.90 EUR"]


def test_run_local_pages_in_page_order(fixtures_dir):
    info = inspect_document(fixtures_dir / "multi_page.pdf")
    seen: list[tuple[int, int]] = []

    async def on_pages(pages: list[tuple[int, models.Page | models.PageJSON]]) -> None:
        seen.extend((number, models.as_page(page).id) for number, page in pages)

    async def main() -> None:
        await run_local_pages(info, [3, 1], engine_name="local", lang=None, on_pages=on_pages, workers=2)

    anyio.run(main)
    assert seen == [(3, 2), (1, 0)]


def test_text_layer_pages_are_handed_out_together_up_to_the_next_page_to_recognise():
    import gc

    collecting: list[bool] = []

    def pages():
        for n in range(1, 41):
            collecting.append(gc.isenabled())
            yield n, ("render" if n in (3, 30) else models.PageJSON("{}"))

    it = pages()
    batches = []
    while batch := local_backend._next_pages(it)[0]:
        batches.append([n for n, _ in batch])
        assert gc.isenabled()  # the collector runs again between batches
    assert batches == [[1, 2, 3], list(range(4, 20)), list(range(20, 31)), list(range(31, 41))]
    assert not any(collecting)  # paused while the pages were read
    gc.disable()
    try:
        local_backend._next_pages(iter([(1, models.PageJSON("{}"))]))
        assert not gc.isenabled()  # a collector the application turned off stays off
    finally:
        gc.enable()


def test_pages_read_before_a_failing_page_are_handed_out_before_its_error():
    """A page that cannot be rendered fails the job, but the text-layer pages read before it in the same
    batch are still handed out (and stored: a resumed job does not read them again)."""

    def pages():
        yield 1, models.PageJSON("{}")
        yield 2, models.PageJSON("{}")
        raise RuntimeError("page 3 cannot be rendered")

    source = local_backend._PageSource(pages())

    async def main() -> list[list[int]]:
        got = [[n for n, _ in await source.next()]]
        with pytest.raises(RuntimeError, match="page 3"):
            await source.next()
        return got

    assert anyio.run(main) == [[1, 2]]


def test_nothing_reaches_stdout(fixtures_dir):
    code = (
        "from upstage_ocr.engines.base import get_engine; from PIL import Image; "
        f"im = Image.open({str(fixtures_dir / 'check_box.png')!r}).convert('RGB').crop((200, 50, 700, 150)); "
        "get_engine('local').recognize(im)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == ""


# -- Korean without a hint -----------------------------------------------------------------------------------

_CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def _rendered(lines: list[str], size: int = 26) -> Image.Image:
    try:
        font = ImageFont.truetype(_CJK_FONT, size, index=1)  # Noto Sans CJK KR
    except OSError:
        pytest.skip("fonts-noto-cjk is not installed")
    img = Image.new("RGB", (1100, 60 + 52 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 30 + 52 * i), line, font=font, fill="black")
    return img


def _cer(truth: str, text: str) -> float:
    from rapidfuzz.distance import Levenshtein

    t, h = re.sub(r"\s+", " ", truth).strip(), re.sub(r"\s+", " ", text).strip()
    return Levenshtein.distance(t, h) / len(t)


def _needs_korean_data() -> None:
    if "kor" not in tesseract.available_languages():
        pytest.skip("tesseract-ocr-kor is not installed")


def test_korean_page_without_a_hint(engine):
    _needs_korean_data()
    truth = [
        "도서관은 평일 오전 아홉 시부터 오후 여섯 시까지 운영됩니다.",
        "주문하신 상품은 내일 오후에 배송될 예정이며 문자로 안내해 드리겠습니다.",
        "고객 여러분의 소중한 의견을 바탕으로 서비스를 계속 개선하겠습니다.",
    ]
    page = recognize_page(engine, _rendered(truth), 0, None)
    assert _cer("\n".join(truth), page.text) <= 0.02
    assert "tesseract" in model_version_for("local", None)


def test_mixed_korean_english_page_without_a_hint(engine):
    _needs_korean_data()
    truth = [
        "Please contact our support team if the problem continues.",
        "새 버전의 Chrome 브라우저에서는 PDF 파일을 바로 열 수 있습니다.",
        "The quarterly report will be shared with all team members on Monday.",
        "신규 API 키는 Settings 메뉴의 Security 항목에서 발급합니다.",
    ]
    page = recognize_page(engine, _rendered(truth), 0, None)
    text = _norm(page.text)
    for word in (
        "chrome",
        "브라우저에서는",
        "pdf",
        "파일을",
        "quarterly",
        "monday",
        "settings",
        "발급합니다",
    ):
        assert word in text
    assert _cer("\n".join(truth), page.text) <= 0.05


def test_english_page_without_a_hint_is_rapidocr_alone(engine):
    from upstage_ocr.engines import hangul

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)
    img = Image.new("RGB", (1000, 160), "white")
    draw = ImageDraw.Draw(img)
    draw.text((30, 30), "The committee met on Tuesday to review the budget.", font=font, fill="black")
    draw.text((30, 90), "Total amount: 129.90 EUR, due 2025-03-01", font=font, fill="black")
    lines, missed = engine.rapid.read_lines_and_misses(img)
    assert not missed and not any(hangul.suspect(line) for line in lines)  # Tesseract is not asked
    page = recognize_page(engine, img, 0, None)
    assert page.text.split(" \n") == [
        "The committee met on Tuesday to review the budget.",
        "Total amount: 129.90 EUR, due 2025-03-01",
    ]
