"""Pages rendered from known content for the parse tests and bench/parse.py, with each word's exact box (what a
PDF text layer gives) and the expected elements in reading order.

A4 at 150 DPI (1240 x 1754). The texts are written for these tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from upstage_ocr.parsing.words import PageWord

PAGE = (1240, 1754)
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=1 if path.endswith(".ttc") else 0)


@dataclass
class Expected:
    category: str
    text: str = ""  # for tables: "" (see `cells`)
    cells: list[list[str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    numbered: bool = False


@dataclass
class RenderedPage:
    name: str
    image: Image.Image
    words: list[PageWord]
    expected: list[Expected]

    @property
    def tables(self) -> list[list[list[str]]]:
        return [e.cells for e in self.expected if e.category == "table"]


class Canvas:
    def __init__(self, size: tuple[int, int] = PAGE) -> None:
        self.image = Image.new("RGB", size, "white")
        self.draw = ImageDraw.Draw(self.image)
        self.words: list[PageWord] = []
        self.expected: list[Expected] = []

    def line(self, x: float, y: float, text: str, f: ImageFont.FreeTypeFont) -> float:
        """One line of words at (x, y); returns the x after its last word."""
        space = f.getlength(" ")
        ascent, descent = f.getmetrics()
        for word in text.split():  # boxes from the font's ascent and descent, as a PDF text layer gives them
            self.draw.text((x, y), word, font=f, fill="black")
            self.words.append(PageWord(word, x, y, x + f.getlength(word), y + ascent + descent))
            x += f.getlength(word) + space
        return x

    def wrap(self, text: str, f: ImageFont.FreeTypeFont, width: float) -> list[str]:
        lines: list[str] = []
        for word in text.split():
            if lines and f.getlength(lines[-1] + " " + word) <= width:
                lines[-1] += " " + word
            else:
                lines.append(word)
        return lines

    def block(
        self, x: float, y: float, width: float, text: str, f: ImageFont.FreeTypeFont, lead: float = 1.45
    ) -> float:
        """A wrapped block of text; returns the y below it."""
        for ln in self.wrap(text, f, width):
            self.line(x, y, ln, f)
            y += f.size * lead
        return y

    def paragraph(
        self, x: float, y: float, width: float, text: str, f: ImageFont.FreeTypeFont, cat: str = "paragraph"
    ) -> float:
        y = self.block(x, y, width, text, f)
        self.expected.append(Expected(cat, text))
        return y

    def bullets(
        self,
        x: float,
        y: float,
        width: float,
        items: Sequence[str],
        f: ImageFont.FreeTypeFont,
        numbered: bool = False,
    ) -> float:
        for i, item in enumerate(items, 1):
            mark = f"{i}." if numbered else "•"
            self.line(x, y, mark, f)
            y = self.block(x + f.size * 1.6, y, width - f.size * 1.6, item, f)
        self.expected.append(Expected("list", items=list(items), numbered=numbered))
        return y

    def table(
        self,
        x: float,
        y: float,
        widths: Sequence[float],
        rows: Sequence[Sequence[str]],
        f: ImageFont.FreeTypeFont,
        style: str = "grid",
    ) -> float:
        """A table with one text line per cell; `style`: "grid" (every rule), "rules" (above, below the header
        row and below) or "none" (no rules at all)."""
        ruled = style == "grid"
        row_h = f.size * 2.2
        x_end = x + sum(widths)
        for r, row in enumerate(rows):
            top = y + r * row_h
            cx = x
            for text, w in zip(row, widths, strict=True):
                if text:
                    self.line(cx + f.size * 0.5, top + (row_h - f.size) / 2, text, f)
                cx += w
        bottom = y + len(rows) * row_h
        ys = (
            [y + r * row_h for r in range(len(rows) + 1)]
            if ruled
            else [y, y + row_h, bottom]
            if style == "rules"
            else []
        )
        for ly in ys:
            self.draw.line([(x, ly), (x_end, ly)], fill="black", width=2)
        if ruled:
            cx = x
            for w in [0, *widths]:
                cx += w
                self.draw.line([(cx, y), (cx, bottom)], fill="black", width=2)
        self.expected.append(Expected("table", cells=[list(r) for r in rows]))
        return bottom

    def page(self, name: str) -> RenderedPage:
        return RenderedPage(name, self.image, self.words, self.expected)


REPORT_TABLE = [
    ["Region", "Units", "Revenue", "Growth"],
    ["North", "1,204", "$48,160", "4.2%"],
    ["South", "987", "$39,480", "-1.3%"],
    ["East", "1,530", "$61,200", "7.9%"],
    ["West", "1,112", "$44,480", "2.6%"],
]


def report_page() -> RenderedPage:
    """Header, a heading, two paragraphs, a bulleted list, a caption, a 5 x 4 ruled table and a footer."""
    c = Canvas()
    body, small = font(SANS, 24), font(SANS, 18)
    c.line(110, 50, "Harbor Logistics quarterly review", small)
    c.expected.append(Expected("header", "Harbor Logistics quarterly review"))
    c.line(110, 130, "Warehouse Operations Summary", font(SANS_BOLD, 44))
    c.expected.append(Expected("heading1", "Warehouse Operations Summary"))
    y = c.paragraph(
        110,
        230,
        1020,
        "The third quarter closed with steady volumes across every depot. Night shifts "
        "absorbed the seasonal peak without overtime, and the new scanners cut picking errors by a third.",
        body,
    )
    y = c.paragraph(
        110,
        y + 30,
        1020,
        "Freight costs rose in September after the fuel surcharge changed, so the "
        "planning team moved two routes to rail and expects the savings to show next quarter.",
        body,
    )
    y = c.bullets(
        140,
        y + 30,
        990,
        [
            "Open the Busan cross-dock in November.",
            "Retire the last paper manifests.",
            "Train forty staff on the returns portal.",
        ],
        body,
    )
    c.line(110, y + 40, "Table 1: Shipments and revenue by region", body)
    c.expected.append(Expected("caption", "Table 1: Shipments and revenue by region"))
    c.table(110, y + 100, [260, 220, 280, 220], REPORT_TABLE, body)
    c.line(590, 1660, "Page 3", small)
    c.expected.append(Expected("footer", "Page 3"))
    return c.page("report")


LEFT_COLUMN = [
    "Tidal flats form where sediment settles faster than currents can carry it away from the shore.",
    "Migrating shorebirds depend on these flats to refuel, feeding on worms and small crustaceans at low tide.",
    "Reclamation projects have removed large areas of flats, and the loss shows in falling bird counts.",
]
RIGHT_COLUMN = [
    "Restoration starts by breaching old sea walls so that tides can reach the former mudflats again.",
    "Within a few seasons the first invertebrates return, followed closely by the birds that hunt them.",
    "Long term monitoring tells managers which breaches work and where sediment needs extra help.",
]


def two_column_page() -> RenderedPage:
    """A full-width title over two columns of three paragraphs each, their paragraph gaps level."""
    c = Canvas()
    body = font(SERIF, 24)
    c.line(110, 110, "Coastal Wetlands Field Notes", font(SANS_BOLD, 44))
    c.expected.append(Expected("heading1", "Coastal Wetlands Field Notes"))
    for x, paras in ((110, LEFT_COLUMN), (650, RIGHT_COLUMN)):
        y = 220.0
        for text in paras:
            y = c.paragraph(x, y, 480, text, body) + 36
    return c.page("two-column")


KOREAN_TABLE = [
    ["지역", "인구", "면적"],
    ["서울", "940만", "605"],
    ["부산", "330만", "770"],
    ["대구", "237만", "884"],
    ["광주", "142만", "501"],
]


def korean_page() -> RenderedPage:
    """A Korean heading, two paragraphs, a bulleted list and a 5 x 3 ruled table."""
    c = Canvas()
    body = font(CJK, 26)
    c.line(110, 120, "도시 인구 보고서", font(CJK_BOLD, 46))
    c.expected.append(Expected("heading1", "도시 인구 보고서"))
    y = c.paragraph(
        110,
        230,
        1020,
        "이 보고서는 주요 도시의 인구와 면적을 정리한 자료입니다. 최근 십 년 동안 "
        "수도권의 인구는 꾸준히 늘었고 지방 도시는 조금씩 줄었습니다.",
        body,
    )
    y = c.paragraph(110, y + 30, 1020, "도시 계획을 세울 때에는 교통과 주거 문제를 함께 살펴야 합니다.", body)
    y = c.bullets(
        140,
        y + 30,
        990,
        ["대중교통 노선을 늘립니다.", "공공 주택을 더 짓습니다.", "공원과 녹지를 넓힙니다."],
        body,
    )
    c.table(110, y + 60, [300, 300, 300], KOREAN_TABLE, body)
    return c.page("korean")


def all_pages() -> list[RenderedPage]:
    return [report_page(), two_column_page(), korean_page(), figure_page(), three_column_page(), mixed_page()]


_CELL_WORDS = [
    "alpha",
    "bravo",
    "delta",
    "amber",
    "cedar",
    "maple",
    "river",
    "stone",
    "north",
    "quartz",
    "sigma",
    "omega",
]


def table_page(seed: int, style: str = "grid") -> RenderedPage:
    """A heading and a table of 3-8 rows by 3-6 columns of words and numbers, drawn in `style` (see
    `Canvas.table`)."""
    import random

    rnd = random.Random(seed)
    n_rows, n_cols = rnd.randint(3, 8), rnd.randint(3, 6)
    f = font(rnd.choice([SANS, SERIF]), rnd.choice([20, 22, 24]))
    header = [f"{rnd.choice(_CELL_WORDS).title()} {c + 1}" for c in range(n_cols)]
    rows = [header] + [
        [
            rnd.choice([f"{rnd.randint(1, 9999):,}", rnd.choice(_CELL_WORDS), f"{rnd.uniform(0, 99):.1f}%"])
            for _ in range(n_cols)
        ]
        for _ in range(n_rows - 1)
    ]
    if rnd.random() < 0.4:  # a description column of 4-7 words a cell
        for row in rows[1:]:
            row[-1] = " ".join(rnd.choice(_CELL_WORDS) for _ in range(rnd.randint(4, 7)))
    widths = [max(f.getlength(r[c]) for r in rows) + f.size * 2.0 for c in range(n_cols)]
    c = Canvas()
    c.line(110, 120, f"Inventory sheet {seed}", font(SANS_BOLD, 40))
    c.expected.append(Expected("heading1", f"Inventory sheet {seed}"))
    c.table(110, 240, widths, rows, f, style)
    return c.page(f"table-{seed}-{style}")


def figure_page() -> RenderedPage:
    """A heading, a paragraph, a bar chart with axis labels, its caption, a numbered list."""
    c = Canvas()
    body = font(SANS, 24)
    c.line(110, 120, "Energy Use by Month", font(SANS_BOLD, 44))
    c.expected.append(Expected("heading1", "Energy Use by Month"))
    y = c.paragraph(
        110,
        220,
        1020,
        "The chart below shows the building's electricity use for the first half of the year.",
        body,
    )
    top, base = y + 60, y + 460
    c.draw.line([(180, top), (180, base)], fill="black", width=3)
    c.draw.line([(180, base), (1000, base)], fill="black", width=3)
    for i, h in enumerate([300, 260, 220, 180, 150, 210]):
        c.draw.rectangle([220 + i * 130, base - h, 300 + i * 130, base], fill=(60, 90, 160))
        c.line(232 + i * 130, base + 8, ["Jan", "Feb", "Mar", "Apr", "May", "Jun"][i], font(SANS, 20))
    c.expected.append(Expected("figure", "Jan Feb Mar Apr May Jun"))
    c.line(110, base + 70, "Figure 2: Monthly electricity use in megawatt hours", body)
    c.expected.append(Expected("caption", "Figure 2: Monthly electricity use in megawatt hours"))
    c.bullets(
        140,
        base + 150,
        990,
        ["Replace the chiller pumps.", "Fit sensors to the lobby lights."],
        body,
        numbered=True,
    )
    return c.page("figure")


THREE_COLUMNS = [
    "Bees visit flowers in a fixed order each morning, and the hive learns which patches pay best.",
    "Scouts dance to share the distance and the bearing of the richest patch with the other foragers.",
    "When rain closes the flowers, the colony lives on stored honey until the weather turns again.",
]


def three_column_page() -> RenderedPage:
    """Three narrow columns of prose (short lines, few words each): not a table."""
    c = Canvas()
    body = font(SERIF, 28)
    c.line(110, 110, "Notes on the Hive", font(SANS_BOLD, 44))
    c.expected.append(Expected("heading1", "Notes on the Hive"))
    for i, text in enumerate(THREE_COLUMNS):
        c.paragraph(110 + i * 345, 220, 300, text, body)
    return c.page("three-column")


def scanned(page: RenderedPage, angle: float = 0.5, seed: int = 0) -> RenderedPage:
    """The page as a mediocre scan: turned by `angle` degrees, blurred, grainy, saved as a JPEG at quality 70.
    The words keep their unrotated boxes, so read them with OCR."""
    import io

    import numpy as np
    from PIL import ImageFilter

    img = page.image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor="white")
    gray = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)).convert("L")).astype(np.float32)
    gray += np.random.default_rng(seed).normal(0, 12, gray.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).convert("RGB").save(buf, "JPEG", quality=70)
    return RenderedPage(
        page.name + "-scan", Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), [], page.expected
    )


MIXED_TOP = [
    [
        "Ferries leave the north pier every hour from six in the morning.",
        "Tickets are sold on board and by the app.",
    ],
    [
        "The island road loops past both beaches and the old lighthouse.",
        "Bicycles can be hired beside the pier.",
    ],
]
MIXED_TABLE = [
    ["Route", "First", "Last", "Minutes"],
    ["Pier to Harbour", "06:00", "21:00", "35"],
    ["Pier to Cove", "07:30", "19:30", "50"],
]
MIXED_BOTTOM = [
    "Winter timetables start on the first of November each year.",
    "Storm warnings cancel the late crossings first.",
]


def mixed_page() -> RenderedPage:
    """A title, two columns, a full-width ruled table across both, two more columns, a footer: read each
    column down to the table, the table, then each column below it."""
    c = Canvas()
    body = font(SANS, 22)
    c.line(110, 110, "Island Travel Guide", font(SANS_BOLD, 44))
    c.expected.append(Expected("heading1", "Island Travel Guide"))
    bottom = 0.0
    for x, paras in ((110, MIXED_TOP[0]), (650, MIXED_TOP[1])):
        y = 220.0
        for text in paras:
            y = c.paragraph(x, y, 480, text, body) + 30
        bottom = max(bottom, y)
    c.table(110, bottom + 40, [420, 200, 200, 200], MIXED_TABLE, body)
    y0 = bottom + 40 + len(MIXED_TABLE) * body.size * 2.2 + 60
    for x, text in zip((110, 650), MIXED_BOTTOM, strict=True):
        c.paragraph(x, y0, 480, text, body)
    c.line(600, 1670, "5", font(SANS, 18))
    c.expected.append(Expected("footer", "5"))
    return c.page("mixed")
