"""Language hints: what users type (`en`, `ko`, `korean`, `kor+eng`) mapped to what each engine wants."""

from __future__ import annotations

import re

# ISO 639-1 / common names -> Tesseract traineddata codes.
_TESSERACT = {
    "en": "eng", "english": "eng", "eng": "eng",
    "ko": "kor", "kr": "kor", "korean": "kor", "kor": "kor", "hangul": "kor",
    "ja": "jpn", "jp": "jpn", "japanese": "jpn", "jpn": "jpn",
    "zh": "chi_sim", "chinese": "chi_sim", "zh-cn": "chi_sim", "zh-hans": "chi_sim",
    "zh-tw": "chi_tra", "zh-hant": "chi_tra",
    "de": "deu", "german": "deu", "fr": "fra", "french": "fra", "es": "spa", "spanish": "spa",
    "it": "ita", "italian": "ita", "pt": "por", "portuguese": "por", "nl": "nld", "ru": "rus", "russian": "rus",
    "ar": "ara", "hi": "hin", "th": "tha", "vi": "vie", "pl": "pol", "tr": "tur", "sv": "swe",
}  # fmt: skip


def split(lang: str | None) -> list[str]:
    """`"kor+eng"`, `"ko,en"`, `"ko en"` -> `["ko", "en"]` style tokens, lower-cased."""
    if not lang:
        return []
    return [t for t in re.split(r"[+,;\s]+", lang.strip().lower()) if t]


def tesseract_lang(lang: str | None, default: str = "eng") -> str:
    """Tesseract's `-l` value for a hint: `en` -> `eng`, `ko` -> `kor`, `kor+eng` stays, unknown codes pass."""
    codes: list[str] = []
    for token in split(lang):
        code = _TESSERACT.get(token, token)
        if code not in codes:
            codes.append(code)
    return "+".join(codes) if codes else default


def is_korean(lang: str | None) -> bool:
    return any(_TESSERACT.get(t, t) == "kor" for t in split(lang))
