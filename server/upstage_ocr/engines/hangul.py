"""Korean without a hint: find the lines RapidOCR could not read, read those with Tesseract `kor`, merge.

The shipped PP-OCRv6 recogniser has no Hangul. On a Hangul line it reads nothing (the detector's box comes
back empty or below RapidOCR's score threshold), a few stray CJK characters (`烈合.` for a whole line), or, on
a line mixing Korean and English, the English words with CJK debris or wide gaps where the Hangul was. Those
signs are cheap to check on RapidOCR's own result, and Latin pages show none of them, so Latin pages pay
nothing. Only the suspect lines go to Tesseract (`kor`, `--psm 7`, on the line crop); its reading replaces
RapidOCR's when it holds Hangul. On mixed lines Tesseract's `kor` model misreads English words (digits, stray
syllables), so its words that do not look like Hangul are read again by RapidOCR's recogniser on their own
crops (one batch per page), falling back on RapidOCR's reading of the same stretch of the line. A word `kor`
read as Latin then Hangul (`Logistics를`) keeps Tesseract's pieces (syllables with their boxes and
confidences): they tell a real Hangul ending from Latin ink `kor` misread, and where RapidOCR's crop of the
Latin should end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
from PIL import Image

from . import tesseract as tess
from .geometry import Quad, TextLine, TextWord
from .rapid import RapidEngine

LANG = "kor"
# A line whose reading has fewer characters than this many per line height of box width is missing text
# (Latin prose measures 1.5 to 2.3, monospaced receipts 1.5 and up, Chinese and Japanese 1.1 to 1.3).
MIN_DENSITY = 1.0
# A gap wider than this many line heights between two words RapidOCR read is a stretch it could not read
# (word spaces measure about 0.3; a Hangul word skipped with its spaces, 0.8 and up).
MAX_GAP = 0.8
# A word box wider than this many line heights per character (plus one) spans a stretch RapidOCR could
# not read (Latin letters measure 0.3 to 0.6 line heights).
MAX_CHAR_WIDTH = 1.5
# RapidOCR's reading of CJK text it can read (Chinese, Japanese) is this confident; Hangul read as CJK is not.
SURE_CJK = 0.97
# Tesseract's reading replaces a line's when it holds at least this many Hangul syllables ...
MIN_HANGUL = 2
# ... and its confidence in the words holding Hangul is at least this (Korean lines it reads well: 0.8 to 0.97).
MIN_TESS_CONF = 0.55
# A Tesseract word with Hangul this unsure gives way to RapidOCR's Latin reading of the same place, if any.
TRUST_HANGUL = 0.6
# RapidOCR's reading of a word crop is used when at least this sure.
REREAD_CONF = 0.6
# ... and, for a word Tesseract read as mostly Hangul, at least this sure (and Latin throughout).
SURE_LATIN = 0.95
# Tesseract words mostly of Hangul at least this sure are kept whatever RapidOCR reads there.
SURE_HANGUL = 0.9
# Digits before a Hangul ending (`1회`) Tesseract reads this surely, ending too, stand as it read them.
SURE_DIGITS = 0.85
# A lone mark (`/`, `~`, `|`) Tesseract reads at least this surely is not read again by RapidOCR.
SURE_MARK = 0.8
# Tesseract words this unsure and without Hangul are dropped from a Hangul line when RapidOCR has nothing.
DROP_BELOW = 0.3
# RapidOCR's Latin pieces of a line this unsure are no evidence (on Hangul lines it reads debris: `12` at 0.5
# where Tesseract read `123번지` at 0.92).
PIECE_CONF = 0.75
# Where RapidOCR's Latin pieces at least this sure cover this share of a Tesseract word's width, the ink there
# is Latin, whatever Tesseract's `kor` model made of it (`A short` read `스 short`, `TX 3951 U` read
# `TX 고 근 우 51 U`): PP-OCRv6 reads Hangul as low-confidence CJK debris or nothing, never as sure Latin.
SURE_PIECE = 0.9
LATIN_COVER = 0.6
# A Latin character is about this many line-box heights wide (a Hangul syllable about 0.67): a word whose
# Latin reading is this wide over LATIN_COVER_ALL of its box is Latin throughout.
LATIN_CHAR_WIDTH = 0.37
LATIN_COVER_ALL = 0.85
MAX_WIDE_LATIN = 4
# Latin and a Hangul ending this many line heights apart are two words Tesseract's plain text ran together.
SPACED = 0.2

_SYLLABLE = re.compile("[\uac00-\ud7a3]")
_ENDING_PIECE = re.compile("^[\uac00-\ud7a3]+[.,:;!?'\")]*$")
_ENDING_REST = re.compile("^[\uac00-\ud7a3]*[.,:;!?'\")]*$")
_LATIN_WORD = re.compile("[A-Za-z\u00c0-\u024f]{2,}")
_LEADING_LATIN = re.compile("^[\x20-\x7e\u00a0-\u024f\u2010-\u2044\u20a0-\u20bf\u2122]+")
# Digits or Latin letters after a word's first Hangul syllable: Hangul and Latin interleaved (`9시~18시`)
_INTERLEAVED = re.compile("[A-Za-z0-9]")
_LATIN_THEN_HANGUL = re.compile("^([^\uac00-\ud7a3]*[A-Za-z0-9][^\uac00-\ud7a3]*)([\uac00-\ud7a3].*)$")
# What PP-OCRv6 reads on Latin pages: ASCII, Latin-1/Extended letters, general punctuation, currency signs.
_LATIN = re.compile("^[\x20-\x7e\u00a0-\u024f\u2010-\u2044\u20a0-\u20bf\u2122]*$")


@lru_cache(maxsize=1)
def available() -> bool:
    """Tesseract with Korean data is installed (otherwise pages are returned as RapidOCR read them)."""
    try:
        tess.backend()
    except Exception:
        return False
    return LANG in tess.available_languages()


def _chars(words: Sequence[TextWord]) -> int:
    return sum(len(w.text) for w in words)


def _conf(words: Sequence[TextWord]) -> float:
    n = _chars(words)
    return sum(w.confidence * len(w.text) for w in words) / n if n else 0.0


def _side(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)


def _height(p: Quad) -> float:
    return max(1.0, min(_side(p[0], p[3]), _side(p[1], p[2])))


def suspect(line: TextLine) -> bool:
    """RapidOCR's reading of this line shows the signs of Hangul it could not read."""
    text = line.text
    p = line.points
    width = max(_side(p[0], p[1]), _side(p[3], p[2]))
    height = _height(p)
    if width < 1.5 * height:  # a single character or mark: too little to judge, and cheap to leave
        return False
    dense = len(text.replace(" ", "")) * height / width
    if dense < MIN_DENSITY:
        return True
    # the characters of a joined word count one by one (`卫` + a blank where `고객센터` is + `1588-0000`)
    xs = sorted(_span(p.points) for w in line.words for p in (w.pieces or [w]))
    if any(b[0] - a[1] > MAX_GAP * height for a, b in pairwise(xs)):
        return True  # a stretch RapidOCR read as blank between two words
    left, right = _span(p)
    if xs and max(xs[0][0] - left, right - max(b for _, b in xs)) > MAX_GAP * height:
        return True  # ... or at the start or end of the line (`예약 문의:` read as `:`)
    if any(
        b - a > MAX_CHAR_WIDTH * height * (len(w.text) + 1) for w in line.words for a, b in [_span(w.points)]
    ):
        return True  # ... or a word box stretched over such a stretch
    if _LATIN.match(text):
        return False
    # Characters outside Latin: Chinese or Japanese RapidOCR reads confidently with no Latin words around;
    # Hangul comes out as a few stray CJK characters, less sure, often between English words.
    conf = _conf(line.words)
    has_latin_word = _LATIN_WORD.search(text) is not None
    return conf < SURE_CJK or has_latin_word


def _crop_and_read(
    image: Image.Image, quads: Sequence[Quad]
) -> list[tuple[Image.Image, list[TextWord], np.ndarray]]:
    """Tesseract `kor` on each line crop: (crop, words in the crop's frame, crop -> page transform)."""
    from .hybrid import crop_lines

    crops, backs = crop_lines(image, quads)
    results = tess.read_line_images(crops, LANG)
    return list(zip(crops, results, backs, strict=True))


def _word_crop(
    crop: Image.Image, words: Sequence[TextWord], j: int, end: float | None = None, begin: float | None = None
) -> Image.Image:
    """Word `j` of a line crop, with a margin that stops short of its neighbours' boxes (a margin reaching
    into `PM` read `I on Friday,` for `on Friday,`); with `end`, only its ink left of that x (the Latin before
    a Hangul ending, which the recogniser would read as Latin debris); with `begin`, only its ink right of
    that x (the Latin after a Hangul start)."""
    left, right = _span(words[j].points)
    pad = 0.25 * crop.height
    lo, hi = left - pad, right + pad
    if end is not None and end > left:
        hi = end
    if begin is not None and left < begin < hi:
        lo = begin
    if j > 0:
        lo = max(lo, min(left, _span(words[j - 1].points)[1] + 1))
    if j + 1 < len(words):
        hi = min(hi, max(right, _span(words[j + 1].points)[0] - 1))
    return crop.crop((max(0, round(lo)), 0, min(crop.width, round(hi)), crop.height))


def _needs_rapid(word: TextWord) -> bool:
    """A Tesseract word on a Hangul line that is probably Latin text `kor` misread: no Hangul syllable, or
    a stray one or two among other characters, or Latin before a Hangul ending (`API를`)."""
    syllables = len(_SYLLABLE.findall(word.text))
    if len(word.text) == 1 and not word.text.isalnum() and word.confidence >= SURE_MARK:
        return False  # `/`: a lone mark's crop reads `1` or `I`; `kor` reads marks well
    if not syllables:
        return True
    ending = _LATIN_THEN_HANGUL.match(word.text)
    if ending:  # `14일`, `API를`: Tesseract reads these well when it is sure, but `API` alone may be `4미`
        return (
            word.confidence < TRUST_HANGUL
            or len(_SYLLABLE.findall(ending.group(2))) == 1
            or _unsure_latin(word)
        )
    return not _mostly_hangul(word.text) or word.confidence < SURE_HANGUL


def _plainly_latin(word: TextWord, text: str, conf: float) -> bool:
    """RapidOCR read a word crop Tesseract thought Hangul as Latin text, surely (`PDF` for `『매`)."""
    if _mostly_hangul(word.text) and (conf < SURE_LATIN or word.confidence >= SURE_HANGUL):
        return False
    return bool(_LATIN.match(text.strip())) and sum(c.isalnum() for c in text) >= 2


def _mostly_hangul(text: str) -> bool:
    return 2 * len(_SYLLABLE.findall(text)) >= len(text.strip(".,:;!?'\"()"))


def _accept(words: Sequence[TextWord]) -> bool:
    """Tesseract read Hangul here, and is fairly sure of the words holding it."""
    text = "".join(w.text for w in words)
    hangul = len(_SYLLABLE.findall(text))
    if hangul < MIN_HANGUL:
        return False
    if _conf([w for w in words if _mostly_hangul(w.text)]) >= MIN_TESS_CONF:
        return True
    # ... or of enough of its syllables (`정가` sure in `정가₩49,000`, beside an unsure `->판매가`)
    sure = [p for w in words for p in (w.pieces or [w]) if p.confidence >= SURE_HANGUL]
    return len(_SYLLABLE.findall("".join(p.text for p in sure))) >= MIN_HANGUL


def _span(points: Quad) -> tuple[float, float]:
    xs = [p[0] for p in points]
    return min(xs), max(xs)


def _joined(pieces: Sequence[TextWord]) -> TextWord:
    if len(pieces) == 1:
        return pieces[0]
    xs = [p[0] for w in pieces for p in w.points]
    ys = [p[1] for w in pieces for p in w.points]
    box: Quad = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
    return TextWord("".join(w.text for w in pieces), _conf(pieces), box)


def _rapid_words(text: str, conf: float, points: Quad) -> list[TextWord]:
    from .rapid import split_line_words

    return split_line_words(text, conf, points)


def merge_line(
    rapid_words: Sequence[TextWord],
    tess_words: Sequence[TextWord],
    height: float,
    reread: dict[int, tuple[str, float]] | None = None,
) -> list[TextWord]:
    """Tesseract's words of a Hangul line, with RapidOCR's reading of the Latin stretches (it reads Latin
    text better than Tesseract's `kor` model, which turns English words into digits and stray syllables).

    Each of RapidOCR's Latin pieces (characters, on such lines) goes to the Tesseract word nearest to it
    along the line, so Tesseract decides where words start and end. A Tesseract word then keeps its own
    reading when it is Hangul; gives way to RapidOCR's pieces when it has no Hangul or only a stray syllable
    or two among other characters; and one of Latin then Hangul (`API를`) keeps its Hangul ending after
    RapidOCR's Latin."""
    assigned = _assign_latin(tess_words, rapid_words, height)
    out: list[TextWord] = []
    reread = reread or {}
    for index, (word, latin) in enumerate(zip(tess_words, assigned, strict=True)):
        hangul_only = _SYLLABLE.search(word.text) and not _LATIN_THEN_HANGUL.match(word.text)
        if hangul_only and _latin_ink(word, [p for _, p in latin]):
            out.extend(_by_source(latin))
            continue
        if _sure_digits(word) and not _letters_read(latin, reread.get(index)):
            # `1회`, `(5만원`: RapidOCR's line read Hangul as more digits (`13`) or lost some
            out.append(word)
            continue
        if not _SYLLABLE.search(word.text) and _agrees(word, latin):
            out.append(word)  # `/`: Tesseract and RapidOCR's line read the same; a lone mark's crop reads `1`
            continue
        text, conf = reread.get(index, ("", 0.0))
        lead = _LEADING_LATIN.match(text.strip())
        start = _hangul_start(word)
        if start and conf >= REREAD_CONF and lead and lead.group(0).strip():
            # `정가₩49,000` run together by `kor`: its Hangul, then RapidOCR's reading of the Latin after it
            out.extend(_start_and_latin(word, start, lead.group(0).strip(), min(conf, 1.0), height))
            continue
        # a sure `3월` is read again only to catch Latin misread as Hangul: RapidOCR's reading counts when it
        # is sure and as wide as the whole word (`API` for `4미`), not when it reads `3h`
        sure_ending = (
            _LATIN_THEN_HANGUL.match(word.text)
            and word.confidence >= TRUST_HANGUL
            and not _unsure_latin(word)
        )
        if sure_ending and not (
            lead
            and conf >= SURE_LATIN
            and (_latin_wide(word, lead.group(0).strip(), height) or _retold(word, lead))
        ):
            lead = None
        if conf >= REREAD_CONF and lead and lead.group(0).strip():
            # RapidOCR read this word's own crop: its Latin, plus a Hangul ending Tesseract is sure of
            ending = _LATIN_THEN_HANGUL.match(word.text)
            latin_text = lead.group(0).strip()
            pieces = _hangul_ending(word) if ending else None
            line_latin = " ".join(w.text for w in _by_source(latin))  # RapidOCR's sure Latin over the word
            if pieces and _latin_over(pieces, latin):
                # `0다` for `OFF`: `kor` unsure of its "ending", RapidOCR surely read Latin all over it
                out.extend(_by_source(latin))
                continue
            if pieces and not _sure_syllables(pieces) and _cut_short(latin_text, line_latin):
                # the crop ended where Tesseract put Hangul, and lost Latin RapidOCR read there (`contac` +
                # `아` for `contact`): that ink is Latin, and the word has no Hangul ending
                out.extend(_rapid_words(line_latin, min(conf, 1.0), word.points))
                continue
            if pieces:
                # Tesseract's syllables after the Latin, with their boxes: `Logistics를`, `Slack 채널에`
                hangul = _joined(pieces)
                gap = _span(pieces[0].points)[0] - max(_span(p.points)[1] for p in _latin_pieces(word))
                if gap >= SPACED * height:  # two words Tesseract ran together
                    out.extend([*_rapid_words(latin_text, min(conf, 1.0), _left_of(word, pieces[0])), hangul])
                    continue
                latin_text += hangul.text
            elif pieces is None and ending and _keeps_ending(word, ending, latin_text, height):
                latin_text += ending.group(2)  # one word, as Tesseract saw it: `API를`, `123번지`, `4층`
            elif _SYLLABLE.search(word.text) and not ending and not _plainly_latin(word, text, conf):
                out.append(word)  # an unsure Hangul word RapidOCR does not plainly read as Latin: keep it
                continue
            out.extend(_rapid_words(latin_text, min(conf, 1.0), word.points))
            continue
        out.extend(_merge_pieces(word, latin))
    return out


def _latin_over(ending: Sequence[TextWord], latin: Sequence[tuple[int, TextWord]]) -> bool:
    """A Hangul ending Tesseract is unsure of, lying under Latin RapidOCR's line reading is sure of."""
    if max(p.confidence for p in ending) >= TRUST_HANGUL:
        return False
    return _latin_ink(_joined(ending), [p for _, p in latin])


def _sure_digits(word: TextWord) -> bool:
    """Digits (and marks) then a Hangul ending, all pieces read surely by `kor` (`1회`, `(5만원`, `12월`):
    `kor` reads digits well, and misreads Latin letters as digits only unsurely (`08151165` for `Logistics`)."""
    ending = _LATIN_THEN_HANGUL.match(word.text)
    if not ending or any(c.isalpha() for c in ending.group(1)) or not word.pieces:
        return False
    hangul = _hangul_ending(word)
    return bool(hangul) and all(p.confidence >= SURE_DIGITS for p in word.pieces)


def _letters_read(latin: Sequence[tuple[int, TextWord]], reread: tuple[str, float] | None) -> bool:
    """RapidOCR surely read Latin letters over a word (`A` where `kor` read `4` in `4동`), on its line or on the
    word's own crop."""

    def letters(text: str) -> bool:
        return any(c.isascii() and c.isalpha() for c in text)

    if reread and reread[1] >= SURE_LATIN and letters(reread[0]):
        return True
    return any(p.confidence >= SURE_PIECE and letters(p.text) for _, p in latin)


def _hangul_start(word: TextWord) -> list[TextWord] | None:
    """Tesseract's pieces of the Hangul a word starts with, sure, when only Latin follows (`정가` of
    `정가₩49,000`, where `kor` ran a Hangul word and a price together and misread the price)."""
    start: list[TextWord] = []
    for piece in word.pieces:
        if not (_ENDING_PIECE.match(piece.text) and piece.confidence >= TRUST_HANGUL):
            break
        start.append(piece)
    rest = word.pieces[len(start) :]
    if not start or not rest or any(_SYLLABLE.search(p.text) for p in rest):
        return None
    return start


def _latin_start(word: TextWord) -> float | None:
    """Where the Latin after a word's Hangul start (`_hangul_start`) begins, if it has one."""
    start = _hangul_start(word)
    return max(_span(p.points)[1] for p in start) if start else None


def _start_and_latin(
    word: TextWord, start: list[TextWord], latin: str, conf: float, height: float
) -> list[TextWord]:
    """A word's Hangul start and the Latin RapidOCR read after it: two words where a space parted them."""
    hangul = _joined(start)
    right = _span(hangul.points)[1]
    rest = word.pieces[len(start) :]
    (_, y0), (x1, _), (_, y1) = word.points[0], word.points[1], word.points[3]
    box: Quad = [(right, y0), (x1, y0), (x1, y1), (right, y1)]
    if _span(rest[0].points)[0] - right >= SPACED * height:
        return [hangul, *_rapid_words(latin, conf, box)]
    whole = _joined([hangul, TextWord(latin, conf, box)])
    return [TextWord(whole.text, min(hangul.confidence, conf), whole.points)]


def _sure_syllables(ending: Sequence[TextWord]) -> bool:
    """Two or more Hangul syllables `kor` is sure of: RapidOCR's Latin over them is Hangul misread (`7H` for `개`)."""
    return len(_SYLLABLE.findall("".join(p.text for p in ending))) >= 2 and all(
        p.confidence >= SURE_HANGUL for p in ending
    )


def _agrees(word: TextWord, latin: Sequence[tuple[int, TextWord]]) -> bool:
    """RapidOCR's sure pieces over a Tesseract word read the same text (spaces aside)."""
    line = "".join(w.text for w in _by_source(latin)).replace(" ", "")
    return bool(line) and line == word.text.replace(" ", "")


def _retold(word: TextWord, lead: re.Match[str]) -> bool:
    """RapidOCR read the crop left of a word's Hangul ending (`_ending_start`) as Latin as long as Tesseract's
    Latin part: the same characters read by the better Latin reader (`1,000` of `1,000원`, where the line's
    own reading, made over Hangul it cannot read, was `1,00`)."""
    ending = _LATIN_THEN_HANGUL.match(word.text)
    if not ending or not _hangul_ending(word):
        return False
    return len(lead.group(0).replace(" ", "")) == len(ending.group(1).replace(" ", ""))


def _assign_latin(
    tess_words: Sequence[TextWord], rapid_words: Sequence[TextWord], height: float
) -> list[list[tuple[int, TextWord]]]:
    """For each Tesseract word, RapidOCR's sure Latin pieces nearest to it along the line (with the index of
    the RapidOCR word each piece came from)."""
    spans = [_span(w.points) for w in tess_words]
    assigned: list[list[tuple[int, TextWord]]] = [[] for _ in tess_words]
    if not spans:
        return assigned
    for source, rword in enumerate(rapid_words):
        for piece in rword.pieces or [rword]:
            if not piece.text.strip() or not _LATIN.match(piece.text) or piece.confidence < PIECE_CONF:
                continue
            left, right = _span(piece.points)
            centre = (left + right) / 2
            gaps = [max(a - centre, centre - b, 0.0) for a, b in spans]
            best = min(range(len(spans)), key=gaps.__getitem__)
            if gaps[best] <= height / 2:
                assigned[best].append((source, piece))
    return assigned


def _merge_pieces(word: TextWord, latin: list[tuple[int, TextWord]]) -> list[TextWord]:
    """A Tesseract word against RapidOCR's pieces in its stretch, as the words RapidOCR saw (Tesseract's
    `kor` often runs two English words together)."""
    rapid = _by_source(latin)
    syllables = len(_SYLLABLE.findall(word.text))
    ending = _LATIN_THEN_HANGUL.match(word.text)
    ending_syllables = len(_SYLLABLE.findall(ending.group(2))) if ending else 0
    if not rapid:
        return [word] if syllables or word.confidence >= DROP_BELOW else []
    if not syllables:
        return rapid
    if ending and _INTERLEAVED.search(ending.group(2)) and word.confidence >= SURE_HANGUL:
        # `9시~18시)`: digits or Latin between the syllables, not Latin before an ending. RapidOCR's pieces
        # cover only some of that (`|~18)`, its Hangul unread): Tesseract, sure of the word, read all of it
        return [word]
    if ending and (word.confidence >= TRUST_HANGUL or ending_syllables >= 2):
        # `API를`, `5000mAh입니다`: one word, as Tesseract saw it (Upstage keeps particles on their word)
        last = rapid[-1]
        right = _span(word.points)[1]
        (lx, ly), _, _, (bx, by) = last.points
        box: Quad = [(lx, ly), (right, ly), (right, by), (bx, by)]
        conf = min(last.confidence, word.confidence)
        return [*rapid[:-1], TextWord(last.text + ending.group(2), conf, box)]
    if 2 * syllables < len(word.text.strip(".,:;!?'\"()")):
        return rapid
    left = _span(word.points)[0]
    before = [r for r in rapid if _span(r.points)[1] <= left + 1 and r.text.isalnum()]
    if before:
        # `A동`: Latin RapidOCR read just left of a Hangul word whose box `kor` started after it
        if left - _span(before[-1].points)[1] < SPACED * _height(word.points):
            return [*before[:-1], _joined([before[-1], word])]
        return [*before, word]
    return [word]


def _cut_short(reread: str, line_latin: str) -> bool:
    """RapidOCR's reading of the Latin left of a Hangul ending is a shorter start of its line reading there."""
    short, full = reread.replace(" ", ""), line_latin.replace(" ", "")
    # more letters or digits, not only the ending's closing marks (`(3)` over `(3` + `종)`)
    return full.startswith(short) and any(c.isalnum() for c in full[len(short) :])


def _unsure_latin(word: TextWord) -> bool:
    """Tesseract's pieces before the Hangul of a word are unsure (`500017` for `5000mAh`, `5180(` for `Slack`):
    `kor` misread Latin there, however sure it is of the Hangul after it."""
    return any(p.confidence < SURE_HANGUL for p in _latin_pieces(word))


def _latin_pieces(word: TextWord) -> list[TextWord]:
    """Tesseract's pieces of a word before its first Hangul syllable."""
    out = []
    for piece in word.pieces:
        if _SYLLABLE.search(piece.text):
            break
        out.append(piece)
    return out


def _hangul_ending(word: TextWord) -> list[TextWord] | None:
    """Tesseract's pieces of the Hangul ending of a word it read as Latin then Hangul: its pieces from the
    first Hangul syllable on, less the unsure syllables lying over the Latin's box (`kor` reads Latin ink as
    Hangul too: `5000mAh입니다` as `500017` `사` `입니다.`). None when Tesseract gave no pieces (judge the
    ending from the text alone), [] when nothing is left or what is left is not Hangul and punctuation."""
    latin = _latin_pieces(word)
    if not word.pieces or not latin or len(latin) == len(word.pieces):
        return None
    right = max(_span(p.points)[1] for p in latin)
    rest = word.pieces[len(latin) :]
    while rest and rest[0].confidence < TRUST_HANGUL and sum(_span(rest[0].points)) / 2 < right:
        rest = rest[1:]
    # an ending is Hangul with its punctuation (`를`, `입니다.`), not more Latin (`타68017` for `team`)
    # (its closing marks may be pieces of their own: `(3종)` as `(3` `종` `)`)
    if not rest or not _ENDING_PIECE.match(rest[0].text) or not all(_ENDING_REST.match(p.text) for p in rest):
        return []
    return rest


def _ending_start(word: TextWord) -> float | None:
    """Where a word's Hangul ending (`_hangul_ending`) starts, if it has one."""
    pieces = _hangul_ending(word) if _LATIN_THEN_HANGUL.match(word.text) else None
    return _span(pieces[0].points)[0] if pieces else None


def _left_of(word: TextWord, piece: TextWord) -> Quad:
    (x0, y0), _, _, (_, y1) = word.points
    right = _span(piece.points)[0]
    return [(x0, y0), (right, y0), (right, y1), (x0, y1)]


def _keeps_ending(word: TextWord, ending: re.Match[str], latin: str, height: float) -> bool:
    """Whether a Hangul ending Tesseract read after Latin (`4층`, `API를`) is kept on RapidOCR's reading of
    the Latin part. Not when RapidOCR's Latin is as wide as the whole word (`API` read `4미` by `kor`: the
    ink is Latin); else when Tesseract is fairly sure, the ending is long, or RapidOCR read no more
    characters than Tesseract's Latin part (so the ending's ink is what RapidOCR cannot read: Hangul)."""
    if _latin_wide(word, latin, height):
        return False
    if word.confidence >= TRUST_HANGUL or len(_SYLLABLE.findall(ending.group(2))) >= 2:
        return True
    return len(latin.replace(" ", "")) <= len(ending.group(1).replace(" ", ""))


def _latin_wide(word: TextWord, latin: str, height: float) -> bool:
    """RapidOCR's short Latin reading of a word's crop (`API`) leaves no room in the word's box for the
    Hangul Tesseract read there (`4미`). Longer readings are not judged: the width estimate is too rough."""
    n = len(latin.replace(" ", ""))
    if n > MAX_WIDE_LATIN:
        return False
    left, right = _span(word.points)
    return LATIN_CHAR_WIDTH * height * n >= LATIN_COVER_ALL * (right - left)


def _by_source(latin: Sequence[tuple[int, TextWord]]) -> list[TextWord]:
    """RapidOCR's pieces in a stretch, joined back into the words RapidOCR saw (Tesseract's `kor` often
    runs two English words together)."""
    return [
        _joined(sorted((p for s, p in latin if s == source), key=lambda w: _span(w.points)[0]))
        for source in sorted({s for s, _ in latin})
    ]


def _latin_ink(word: TextWord, pieces: Sequence[TextWord]) -> bool:
    """RapidOCR read most of this word's width as Latin, surely: the ink is Latin, not Hangul."""
    left, right = _span(word.points)
    width = right - left
    if width <= 0:
        return False
    height = _height(word.points)
    covered: list[tuple[float, float]] = []
    for piece in pieces:
        a, b = _span(piece.points)
        # a box far wider than its characters is no evidence of where they are (`&` boxed over `게시판`)
        if piece.confidence >= SURE_PIECE and b - a <= (len(piece.text.strip()) + 1) * height:
            covered.append((max(a, left), min(b, right)))
    total, reach = 0.0, left
    for a, b in sorted(covered):
        a = max(a, reach)
        if b > a:
            total += b - a
            reach = b
    return total >= LATIN_COVER * width


def fix_lines(
    image: Image.Image, lines: list[TextLine], missed: Sequence[Quad], rapid: RapidEngine
) -> list[TextLine]:
    """`lines` (RapidOCR's reading of `image`) with suspect lines and missed boxes read again for Hangul."""
    from .hybrid import to_page

    suspects = [i for i, line in enumerate(lines) if suspect(line)]
    if not (suspects or missed) or not available():
        return lines
    image = image.convert("RGB") if image.mode != "RGB" else image
    targets: list[tuple[Quad, list[TextWord]]] = [(lines[i].points, lines[i].words) for i in suspects]
    targets += [(quad, []) for quad in missed]
    readings = _crop_and_read(image, [quad for quad, _ in targets])
    accepted = [k for k, (_, words, _) in enumerate(readings) if _accept(words)]
    # Words Tesseract's `kor` probably misread (Latin) are read again by RapidOCR on their own crops.
    asks: list[tuple[int, int]] = []
    word_crops: list[Image.Image] = []
    for k in accepted:
        crop, words, _ = readings[k]
        for j, word in enumerate(words):
            if _needs_rapid(word):
                asks.append((k, j))
                word_crops.append(_word_crop(crop, words, j, _ending_start(word), _latin_start(word)))
    answers: dict[int, dict[int, tuple[str, float]]] = {}
    for (k, j), answer in zip(asks, rapid.read_crops(word_crops), strict=True):
        answers.setdefault(k, {})[j] = answer
    out = list(lines)
    extra: list[TextLine] = []
    for k in accepted:
        quad, rapid_words = targets[k]
        _, words, back = readings[k]
        height = _height(quad)
        page_words = [
            TextWord(
                w.text,
                w.confidence,
                to_page(w.points, back),
                [TextWord(p.text, p.confidence, to_page(p.points, back)) for p in w.pieces],
            )
            for w in words
        ]
        merged = merge_line(rapid_words, page_words, height, answers.get(k))
        if k < len(suspects):
            out[suspects[k]] = TextLine(points=quad, words=merged)
        else:
            extra.append(TextLine(points=quad, words=merged))
    return out + extra
