"""More of the labelled page set: Chinese and Japanese prose (written without spaces) and two-column English.

Same page size, fonts sizes and degradations as `_labelled.py`; the texts are written for this benchmark.
The truth of a two-column page is the left column's lines, then the right column's: the reading order a
user expects.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

NOTO_SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
NOTO_SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
# (name, file, face index in the collection: 0 JP, 2 SC)
CHINESE_FONTS = [("NotoSansCJKsc", NOTO_SANS, 2), ("NotoSerifCJKsc", NOTO_SERIF, 2)]
JAPANESE_FONTS = [("NotoSansCJKjp", NOTO_SANS, 0), ("NotoSerifCJKjp", NOTO_SERIF, 0)]

CHINESE = [
    "我们的产品将于明天上午送达，请注意查收短信通知。",
    "图书馆平日早上九点开门，晚上六点关门。",
    "本次会议讨论了下一季度的预算和新员工招聘计划。",
    "请在周五之前把签好的合同和身份证复印件一起寄回。",
    "河水一夜之间上涨了将近两米，旧桥附近的几条道路已经封闭。",
    "软件更新后电池续航时间更长，无线连接的问题也得到了解决。",
    "冬季期间，博物馆每周六上午十一点提供导览服务。",
    "两位独立审核员检查了结果，没有在最终计算中发现错误。",
    "从车站步行几分钟，就能到达一个有喷泉和咖啡馆的安静广场。",
    "顾客保留原始收据的，可以在三十天内退还未使用的商品。",
]
JAPANESE = [
    "本日の会議では来期の予算と新しい採用計画について話し合いました。",
    "図書館は平日の午前九時から午後六時まで開いています。",
    "ご注文の商品は明日の午後にお届けする予定です。",
    "川の水位が一晩で大きく上がり、古い橋の近くの道路が通行止めになりました。",
    "署名した契約書を金曜日までに身分証明書のコピーと一緒に返送してください。",
    "今回の更新で電池の持ち時間が長くなり、無線接続の問題も解決されました。",
    "冬の間、博物館では毎週土曜日の午前十一時にガイドツアーを行っています。",
    "駅から少し歩くと、噴水と小さなカフェのある静かな広場に出ます。",
    "二人の担当者が結果を確認し、最終的な計算に誤りは見つかりませんでした。",
    "レシートがあれば、未使用の商品は三十日以内に返品できます。",
]


def cjk_fonts(category: str) -> list[tuple[str, str, int]]:
    fonts = CHINESE_FONTS if category == "chinese" else JAPANESE_FONTS
    return [f for f in fonts if Path(f[1]).exists()]


def _wrap_chars(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Text without spaces wrapped at any character, as CJK text is."""
    lines: list[str] = []
    current = ""
    for ch in text:
        if current and draw.textlength(current + ch, font=font) > width:
            lines.append(current)
            current = ""
        current += ch
    if current:
        lines.append(current)
    return lines


def cjk_page(
    sentences: list[str],
    font: ImageFont.FreeTypeFont,
    rng: random.Random,
    n: int,
    page: tuple[int, int],
    margin: int,
) -> tuple[Image.Image, str]:
    """A page of paragraphs of `n` sentences picked from `sentences`, no spaces anywhere."""
    img = Image.new("RGB", page, "white")
    draw = ImageDraw.Draw(img)
    size = font.size
    y = margin
    truth: list[str] = []
    picked = [rng.choice(sentences) for _ in range(n)]
    for start in range(0, len(picked), 3):
        for line in _wrap_chars(draw, "".join(picked[start : start + 3]), font, page[0] - 2 * margin):
            if y + size * 1.6 > page[1] - margin:
                break
            draw.text((margin, y), line, font=font, fill="black")
            truth.append(line)
            y += int(size * 1.6)
        y += int(size * 0.8)
    return img, "\n".join(truth)


def two_column_page(
    sentences: list[str], font: ImageFont.FreeTypeFont, rng: random.Random, page: tuple[int, int], margin: int
) -> tuple[Image.Image, str]:
    """A title across the page, then two columns of prose (the right column shorter); truth column by column."""
    from _labelled import _wrap

    img = Image.new("RGB", page, "white")
    draw = ImageDraw.Draw(img)
    size = font.size
    gutter = int(2.2 * size)
    col_w = (page[0] - 2 * margin - gutter) // 2
    title = "Quarterly notes from the town committee"
    draw.text((margin, margin), title, font=font, fill="black")
    truth = [title]
    top = margin + int(size * 3)
    for col, n in ((0, 9), (1, 7)):
        text = " ".join(rng.choice(sentences) for _ in range(n))
        x = margin + col * (col_w + gutter)
        y = top
        for line in _wrap(draw, text, font, col_w, False):
            if y + size * 1.6 > page[1] - margin:
                break
            draw.text((x, y), line, font=font, fill="black")
            truth.append(line)
            y += int(size * 1.5)
    return img, "\n".join(truth)
