"""Korean (and other scripts the shipped RapidOCR model cannot read): RapidOCR finds the lines, Tesseract reads them.

PP-OCRv6's shipped recogniser has no Hangul, and Tesseract's own page segmentation sometimes scrambles whole
regions of multi-paragraph Korean pages. RapidOCR's detector alone (`use_rec=False`) finds lines well, and
Tesseract `--psm 7` reads a single clean line of Hangul well: docs/local-engines measured 0.6% CER for the pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..models import RawWord
from . import tesseract as tess
from .geometry import Quad, TextLine, TextWord, best_orientation, to_raw_words
from .langs import tesseract_lang
from .rapid import RapidEngine, rapidocr_version

# What a Korean hint ("ko", "kor", "korean") runs. `kor` alone reads Korean prose best (bench: 0.1% CER vs
# 3.4% for `kor+eng`), but misreads English lines; lines it is unsure of are read again with FALLBACK_LANG.
KOREAN_DEFAULT = "kor"
FALLBACK_LANG = "kor+eng"
FALLBACK_BELOW = 0.75
MIN_LINE_HEIGHT = 40  # crops shorter than this are scaled up before Tesseract reads them
PAD = 3


def crop_line(image: Image.Image, quad: Quad) -> tuple[Image.Image, np.ndarray]:
    """The line straightened into its own image, and the 3x3 transform from crop pixels back to page pixels."""
    import cv2

    pts = np.array(quad, dtype=np.float32)
    w = float(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = float(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    w, h = max(w, 2.0), max(h, 2.0)
    scale = MIN_LINE_HEIGHT / h if h < MIN_LINE_HEIGHT else 1.0
    out_w, out_h = round(w * scale) + 2 * PAD, round(h * scale) + 2 * PAD
    dst = np.array(
        [[PAD, PAD], [out_w - PAD, PAD], [out_w - PAD, out_h - PAD], [PAD, out_h - PAD]], dtype=np.float32
    )
    forward = cv2.getPerspectiveTransform(pts, dst)
    arr = np.asarray(image)
    crop = cv2.warpPerspective(
        arr, forward, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return Image.fromarray(crop), np.linalg.inv(forward)


def crop_lines(image: Image.Image, quads: Sequence[Quad]) -> tuple[list[Image.Image], list[np.ndarray]]:
    """Each line straightened by `crop_line`: the crops, and their crop -> page transforms, in quad order."""
    crops: list[Image.Image] = []
    backs: list[np.ndarray] = []
    for quad in quads:
        crop, back = crop_line(image, quad)
        crops.append(crop)
        backs.append(back)
    return crops, backs


def to_page(points: Quad, back: np.ndarray) -> Quad:
    src = np.array([[x, y, 1.0] for x, y in points], dtype=np.float64).T
    dst = back @ src
    dst = dst[:2] / dst[2]
    return [(float(x), float(y)) for x, y in dst.T]


def _mean_conf(words: list[TextWord]) -> float:
    chars = sum(len(w.text) for w in words)
    return sum(w.confidence * len(w.text) for w in words) / chars if chars else 0.0


class HybridEngine:
    """RapidOCR's detector + Tesseract per line. `lang` picks the Tesseract language (default `kor`)."""

    name = "local-kor"

    def __init__(self, rapid: RapidEngine | None = None, default_lang: str = KOREAN_DEFAULT) -> None:
        self._rapid = rapid or RapidEngine()
        self._default_lang = default_lang
        tess.backend()  # ConfigError with the install hint when Tesseract is missing

    @property
    def model_version(self) -> str:
        return self.model_version_for(None)

    def lang_code(self, lang: str | None) -> str:
        code = tesseract_lang(lang, self._default_lang)
        return self._default_lang if code == "kor" else code

    def model_version_for(self, lang: str | None) -> str:
        code = self.lang_code(lang)
        return f"local-rapidocr-{rapidocr_version()}-det+tesseract-{tess.tesseract_version()}-{code}"

    def read_lines(self, image: Image.Image, lang: str) -> list[TextLine]:
        image = image.convert("RGB") if image.mode != "RGB" else image
        boxes = self._rapid.detect_boxes(image)
        crops, backs = crop_lines(image, boxes)
        results = tess.read_line_images(crops, lang)
        if lang == "kor" and FALLBACK_LANG.split("+")[1] in tess.available_languages():
            unsure = [i for i, words in enumerate(results) if _mean_conf(words) < FALLBACK_BELOW]
            if unsure:
                again = tess.read_line_images([crops[i] for i in unsure], FALLBACK_LANG)
                for i, words in zip(unsure, again, strict=True):
                    if _mean_conf(words) > _mean_conf(results[i]):
                        results[i] = words
        lines: list[TextLine] = []
        for quad, back, words in zip(boxes, backs, results, strict=True):
            page_words = [TextWord(w.text, w.confidence, to_page(w.points, back)) for w in words]
            lines.append(TextLine(points=quad, words=page_words))
        return lines

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]:
        code = self.lang_code(lang)
        tess.check_languages(code)
        angle, lines = best_orientation(image, lambda im: self.read_lines(im, code))
        return to_raw_words(lines, angle, image.size)
