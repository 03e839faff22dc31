"""A labelled page set rendered from known text: English prose, receipts, Korean prose, mixed Korean/English,
Chinese and Japanese prose, two-column English (the last three in `_labelled_more.py`).

Pages are A4 at 150 DPI (1240 x 1754, the scale the Upstage API renders PDFs at), in several fonts and sizes,
clean, slightly rotated, or blurred with speckle noise. The texts are written for this benchmark.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

PAGE = (1240, 1754)
MARGIN = 110

LATIN_FONTS = [
    ("DejaVuSans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    ("DejaVuSerif", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0),
    ("LiberationSans", "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf", 0),
    ("LiberationSerif", "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf", 0),
    ("NotoSans", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
]
MONO_FONTS = [
    ("DejaVuSansMono", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0),
    ("LiberationMono", "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf", 0),
]
KOREAN_FONTS = [
    ("NotoSansCJKkr", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
    ("NotoSerifCJKkr", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 1),
]

ENGLISH = [
    "The committee met on Tuesday to review the budget for the coming year and agreed to postpone the vote.",
    "Most of the delay came from a supplier who shipped the wrong parts twice before the order was corrected.",
    "Please send the signed contract back by Friday, together with a copy of your identity card.",
    "Our library opens at nine in the morning and closes at six in the evening on weekdays.",
    "The river rose by almost two metres overnight, and several roads near the old bridge were closed.",
    "She adjusted the telescope slowly, waiting for the clouds to drift away from the bright planet.",
    "A short walk from the station brings you to a quiet square with a fountain and three small cafes.",
    "Results were checked by two independent reviewers, who found no errors in the final calculations.",
    "Customers can return unused items within thirty days if they keep the original receipt.",
    "The new software update improves battery life and fixes a problem with wireless connections.",
    "During the winter months the museum offers guided tours every Saturday at eleven o'clock.",
    "He wrote the numbers down carefully: 17 boxes, 245 bottles and 8 crates of fresh vegetables.",
]
KOREAN = [
    "오늘 회의에서는 다음 분기 예산과 신규 채용 계획에 대하여 논의하였습니다.",
    "도서관은 평일 오전 아홉 시부터 오후 여섯 시까지 운영됩니다.",
    "주문하신 상품은 내일 오후에 배송될 예정이며 문자로 안내해 드리겠습니다.",
    "강물이 밤사이 크게 불어나 다리 근처의 도로 몇 곳이 통제되었습니다.",
    "고객 여러분의 소중한 의견을 바탕으로 서비스를 계속 개선하겠습니다.",
    "이번 업데이트로 배터리 사용 시간이 늘어나고 무선 연결 문제가 해결되었습니다.",
    "박물관은 겨울 동안 매주 토요일 오전 열한 시에 안내 관람을 진행합니다.",
    "계약서에 서명하신 후 금요일까지 신분증 사본과 함께 보내 주시기 바랍니다.",
    "역에서 조금만 걸으면 분수와 작은 카페가 있는 조용한 광장이 나옵니다.",
    "두 명의 검토자가 결과를 확인하였고 최종 계산에서 오류를 찾지 못했습니다.",
]
# Korean sentences with English words, numbers and codes in them, as in product pages, notices and manuals.
MIXED = [
    "새 버전의 Chrome 브라우저에서는 PDF 파일을 바로 열 수 있습니다.",
    "회의는 3월 14일 오후 2시에 Seoul Office 5층 회의실에서 열립니다.",
    "Wi-Fi 비밀번호는 안내 데스크에서 확인하실 수 있습니다.",
    "이 제품은 USB-C 충전을 지원하며 배터리 용량은 5000mAh입니다.",
    "주문 번호 A-2047 상품은 CJ Logistics를 통해 발송되었습니다.",
    "신규 API 키는 Settings 메뉴의 Security 항목에서 발급합니다.",
    "Please contact our support team if the problem continues.",
    "The quarterly report will be shared with all team members on Monday.",
    "모든 직원은 Slack 채널에 주간 업무 보고를 올려 주시기 바랍니다.",
    "Seminar registration closes at 5 PM on Friday, March 21.",
]
ITEMS = [
    "Latte Macchiato", "Espresso", "Croissant", "Orange Juice", "Club Sandwich", "Green Tea", "Mineral Water",
    "Apple Pie", "Cheese Plate", "Tomato Soup", "Caesar Salad", "Cappuccino", "Lemonade", "Brownie",
]  # fmt: skip


@dataclass
class LabelledPage:
    name: str
    category: str  # english | receipt | korean | mixed | chinese | japanese | twocolumn
    lang: str
    truth: str
    image: Image.Image


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont | None:
    if not Path(path).exists():
        return None
    return ImageFont.truetype(path, size, index=index)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int, korean: bool
) -> list[str]:
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width:
            current = trial
        else:
            if current:
                lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _degrade(img: Image.Image, variant: str, rng: random.Random) -> Image.Image:
    if variant == "rotated":
        return img.rotate(rng.choice([-1.2, 0.8, 1.5]), resample=Image.Resampling.BICUBIC, fillcolor="white")
    if variant == "noisy":
        img = img.filter(ImageFilter.GaussianBlur(0.9))
        px = img.load()
        assert px is not None
        for _ in range(img.width * img.height // 400):
            x, y = rng.randrange(img.width), rng.randrange(img.height)
            shade = rng.randrange(0, 256)
            px[x, y] = (shade, shade, shade)
        return img
    return img


def _prose_page(
    sentences: list[str], font: ImageFont.FreeTypeFont, korean: bool, rng: random.Random, n_sentences: int
) -> tuple[Image.Image, str]:
    img = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(img)
    y = MARGIN
    truth: list[str] = []
    size = font.size
    picked = [rng.choice(sentences) for _ in range(n_sentences)]
    for para_start in range(0, len(picked), 3):
        paragraph = " ".join(picked[para_start : para_start + 3])
        for line in _wrap(draw, paragraph, font, PAGE[0] - 2 * MARGIN, korean):
            if y + size * 1.6 > PAGE[1] - MARGIN:
                break
            draw.text((MARGIN, y), line, font=font, fill="black")
            truth.append(line)
            y += int(size * 1.5)
        y += int(size * 0.8)
    return img, "\n".join(truth)


def _receipt_page(font: ImageFont.FreeTypeFont, rng: random.Random) -> tuple[Image.Image, str]:
    img = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(img)
    left, right = 330, 910
    lines: list[tuple[str, str]] = [
        ("CAFE AM SEE", ""),
        ("Seestrasse 12, 8002 Zurich", ""),
        (f"Bill No. {rng.randrange(1000, 9999)}", f"{rng.randrange(1, 28):02d}.03.2025"),
    ]
    total = 0.0
    for _ in range(rng.randrange(6, 11)):
        qty = rng.randrange(1, 4)
        price = rng.randrange(250, 2400) / 100
        total += qty * price
        lines.append((f"{qty}x {rng.choice(ITEMS)}", f"{qty * price:.2f}"))
    lines += [
        ("Total CHF", f"{total:.2f}"),
        ("VAT 8.1% incl.", f"{total * 0.081 / 1.081:.2f}"),
        ("Thank you!", ""),
    ]
    y = 200
    truth = []
    for label, amount in lines:
        draw.text((left, y), label, font=font, fill="black")
        if amount:
            width = draw.textlength(amount, font=font)
            draw.text((right - width, y), amount, font=font, fill="black")
        truth.append(f"{label} {amount}".strip())
        y += int(font.size * 1.7)
    return img, "\n".join(truth)


def build(quick: bool = False, seed: int = 7) -> list[LabelledPage]:
    rng = random.Random(seed)
    variants = ["clean", "rotated", "noisy"]
    pages: list[LabelledPage] = []
    latin = [(n, p, i) for n, p, i in LATIN_FONTS if Path(p).exists()]
    mono = [(n, p, i) for n, p, i in MONO_FONTS if Path(p).exists()]
    korean = [(n, p, i) for n, p, i in KOREAN_FONTS if Path(p).exists()]
    per_category = 3 if quick else 9
    for k in range(per_category):
        variant = variants[k % 3]
        name, path, index = latin[k % len(latin)]
        size = [24, 28, 21][k % 3]  # about 11.5, 13.5 and 10 pt at 150 DPI
        font = _font(path, index, size)
        assert font is not None
        img, truth = _prose_page(ENGLISH, font, False, rng, 12 if quick else 18)
        pages.append(
            LabelledPage(
                f"english-{name}-{size}px-{variant}", "english", "en", truth, _degrade(img, variant, rng)
            )
        )
    for k in range(per_category):
        variant = variants[k % 3]
        name, path, index = (mono + latin)[k % len(mono + latin)]
        font = _font(path, index, [26, 24, 28][k % 3])
        assert font is not None
        img, truth = _receipt_page(font, rng)
        pages.append(
            LabelledPage(f"receipt-{name}-{variant}", "receipt", "en", truth, _degrade(img, variant, rng))
        )
    for k in range(per_category if korean else 0):
        variant = variants[k % 3]
        name, path, index = korean[k % len(korean)]
        size = [26, 30, 24][k % 3]
        font = _font(path, index, size)
        assert font is not None
        img, truth = _prose_page(KOREAN, font, True, rng, 8 if quick else 14)
        pages.append(
            LabelledPage(
                f"korean-{name}-{size}px-{variant}", "korean", "ko", truth, _degrade(img, variant, rng)
            )
        )
    for k in range(per_category if korean else 0):
        variant = variants[k % 3]
        name, path, index = korean[(k + 1) % len(korean)]
        size = [24, 28, 26][k % 3]
        font = _font(path, index, size)
        assert font is not None
        img, truth = _prose_page(MIXED, font, True, rng, 9 if quick else 14)
        pages.append(
            LabelledPage(
                f"mixed-{name}-{size}px-{variant}", "mixed", "ko+en", truth, _degrade(img, variant, rng)
            )
        )
    return pages + _more(per_category, random.Random(seed + 1), latin)


def _more(per_category: int, rng: random.Random, latin: list[tuple[str, str, int]]) -> list[LabelledPage]:
    """Chinese and Japanese prose and two-column English (their own random stream, so the pages above stay
    the same as before these categories were added)."""
    from _labelled_more import CHINESE, JAPANESE, cjk_fonts, cjk_page, two_column_page

    variants = ["clean", "rotated", "noisy"]
    pages: list[LabelledPage] = []
    for category, lang, sentences in (("chinese", "zh", CHINESE), ("japanese", "ja", JAPANESE)):
        fonts = cjk_fonts(category)
        for k in range(per_category if fonts else 0):
            variant = variants[k % 3]
            name, path, index = fonts[k % len(fonts)]
            size = [26, 30, 24][k % 3]
            font = _font(path, index, size)
            assert font is not None
            img, truth = cjk_page(sentences, font, rng, 9 if per_category < 9 else 18, PAGE, MARGIN)
            page_name = f"{category}-{name}-{size}px-{variant}"
            pages.append(LabelledPage(page_name, category, lang, truth, _degrade(img, variant, rng)))
    for k in range(per_category):
        variant = variants[k % 3]
        name, path, index = latin[k % len(latin)]
        size = [22, 24, 20][k % 3]
        font = _font(path, index, size)
        assert font is not None
        img, truth = two_column_page(ENGLISH, font, rng, PAGE, MARGIN)
        page_name = f"twocolumn-{name}-{size}px-{variant}"
        pages.append(LabelledPage(page_name, "twocolumn", "en", truth, _degrade(img, variant, rng)))
    return pages + _graphics(2 * per_category, random.Random(rng.random()))


def _graphics(count: int, rng: random.Random) -> list[LabelledPage]:
    """Korean web and product graphics (their own random stream, after the pages above)."""
    from _korean_graphics import available, graphic

    fonts = available()
    pages: list[LabelledPage] = []
    for k in range(count if fonts else 0):
        font = fonts[k % len(fonts)]
        img, truth = graphic(rng, font)
        pages.append(LabelledPage(f"ko-graphic-{font[0]}-{k}", "ko-graphic", "ko+en", truth, img))
    return pages
