"""Korean web and product graphics for the benchmark: short lines of Hangul mixed with prices, dates, phone
numbers, units, URLs and Latin words, in bold or regular type on coloured backgrounds (white on dark, dark on
yellow, ...), some centred, sizes from 26 to 56 px. The kind of image a Korean shop, menu or event banner is,
where Tesseract's page segmentation breaks down (coloured blocks, large type) and RapidOCR cannot read Hangul.
The phrases are written for this benchmark."""

from __future__ import annotations

import random
from pathlib import Path

from _labelled import KOREAN_FONTS
from PIL import Image, ImageDraw, ImageFont

# the prose pages' Korean faces, and the bold one banners use
FONTS = [("NotoSansCJKkr-Bold", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1), *KOREAN_FONTS]

PHRASES = [
    "봄맞이 특별 할인전",
    "최대 70% 할인",
    "오늘 밤 12시 마감",
    "정가 49,000원 → 판매가 32,900원",
    "1+1 이벤트 진행 중",
    "무료배송 (5만원 이상 구매 시)",
    "신규 회원 10% 쿠폰 지급",
    "고객센터 1588-1234",
    "평일 09:00~18:00 (주말 휴무)",
    "서울특별시 중구 세종대로 110, 3층",
    "문의: help@store.co.kr",
    "www.store.co.kr에서 확인하세요",
    "제품명: 무선 이어폰 Pro 2",
    "배터리 최대 30시간 사용",
    "Bluetooth 5.3 지원",
    "방수 등급 IPX7",
    "색상: 블랙 / 화이트 / 블루",
    "무게 45g, 크기 60 x 48 x 25 mm",
    "원산지: 대한민국",
    "유통기한: 2027년 3월 31일까지",
    "1일 1회, 1회 2정 섭취",
    "용량 500ml x 24개입",
    "NEW 신메뉴 출시",
    "아메리카노 4,500원",
    "카페라떼 5,000원",
    "주차 2시간 무료",
    "예약 필수 (010-9876-5432)",
    "SALE 기간: 12월 1일 ~ 12월 25일",
    "선착순 100명 한정",
    "Wi-Fi 무료 제공",
    "QR코드를 스캔하세요",
    "총 3개 상품, 합계 58,000원",
    "회의실 A동 5층 502호",
    "세미나 일정: 3월 14일 오후 2시",
    "참가비 무료",
    "신청 마감 D-3",
    "Q&A 게시판 운영",
    "AS 기간 구입 후 1년",
]

# (background, text) colours
PALETTES = [
    ((255, 255, 255), (20, 20, 20)),
    ((245, 240, 230), (60, 40, 20)),
    ((20, 30, 60), (255, 255, 255)),
    ((200, 30, 40), (255, 255, 255)),
    ((255, 220, 0), (20, 20, 20)),
    ((235, 245, 255), (0, 50, 120)),
    ((30, 30, 30), (255, 210, 0)),
    ((240, 255, 240), (10, 90, 30)),
]


def available() -> list[tuple[str, str, int]]:
    return [f for f in FONTS if Path(f[1]).exists()]


def graphic(rng: random.Random, font: tuple[str, str, int]) -> tuple[Image.Image, str]:
    """One graphic of 3 to 6 lines and its text (lines joined by newlines)."""
    lines = rng.sample(PHRASES, rng.randint(3, 6))
    background, ink = rng.choice(PALETTES)
    width = rng.choice([800, 1000, 1200])
    sizes = [rng.choice([26, 30, 36, 44, 56]) for _ in lines]
    img = Image.new("RGB", (width, sum(int(s * 1.8) for s in sizes) + 80), background)
    draw = ImageDraw.Draw(img)
    y = 40
    for text, size in zip(lines, sizes, strict=True):
        face = ImageFont.truetype(font[1], size, index=font[2])
        while draw.textlength(text, font=face) > width - 80 and size > 18:
            size -= 2
            face = ImageFont.truetype(font[1], size, index=font[2])
        x = 40 if rng.random() < 0.6 else int((width - draw.textlength(text, font=face)) / 2)
        draw.text((x, y), text, font=face, fill=ink)
        y += int(size * 1.8)
    return img, "\n".join(lines)
