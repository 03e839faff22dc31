"""Tesseract: in-process through `tesserocr` when it is installed, else the `tesseract` binary (TSV output).

Both need Tesseract's language data (Debian: `tesseract-ocr` plus `tesseract-ocr-kor` etc.). Used as the
`tesseract` engine (whole pages, Tesseract's own layout analysis) and, line by line, as the Hangul recogniser
behind the Korean hybrid engine (see `hybrid.py`).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import ConfigError, EngineError
from ..models import RawWord
from .geometry import TextLine, TextWord, quad_from_box, to_raw_words
from .langs import tesseract_lang

INSTALL_HINT = (
    "Install Tesseract and its language data (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-kor; "
    "macOS: brew install tesseract tesseract-lang), or use the default local engine for Latin text"
)
_TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
    "/usr/local/share/tesseract-ocr/tessdata",
)
_LINE_GAP = 24  # white pixels between stacked line crops (binary backend)


@lru_cache(maxsize=1)
def find_binary() -> str | None:
    return shutil.which("tesseract")


@lru_cache(maxsize=1)
def tessdata_dir() -> str | None:
    """Where the *.traineddata files live (TESSDATA_PREFIX first, then the usual install paths)."""
    env = os.environ.get("TESSDATA_PREFIX")
    candidates = [env, str(Path(env) / "tessdata")] if env else []
    for path in [*candidates, *_TESSDATA_CANDIDATES]:
        if path and Path(path).is_dir() and any(Path(path).glob("*.traineddata")):
            return path
    binary = find_binary()
    if binary:
        try:
            out = subprocess.run(
                [binary, "--list-langs"], capture_output=True, text=True, timeout=20, check=False
            )
            first = (out.stdout or out.stderr).splitlines()[:1]
            if first and '"' in first[0]:
                found = first[0].split('"')[1]
                if Path(found).is_dir():
                    return found
        except (OSError, subprocess.SubprocessError):
            pass
    return None


def available_languages() -> set[str]:
    path = tessdata_dir()
    if not path:
        return set()
    return {p.stem for p in Path(path).glob("*.traineddata")}


@lru_cache(maxsize=1)
def _tesserocr() -> Any | None:
    try:
        import tesserocr
    except ImportError:
        return None
    return tesserocr


def backend() -> str:
    """`tesserocr` (in-process) or `binary`; ConfigError when neither is usable."""
    if _tesserocr() is not None and tessdata_dir():
        return "tesserocr"
    if find_binary() and tessdata_dir():
        return "binary"
    raise ConfigError("Tesseract is not installed", hint=INSTALL_HINT)


def tesseract_version() -> str:
    mod = _tesserocr()
    if mod is not None and tessdata_dir():
        return str(mod.tesseract_version().split()[1])
    binary = find_binary()
    if not binary:
        raise ConfigError("Tesseract is not installed", hint=INSTALL_HINT)
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20, check=False)
    first = (out.stdout or out.stderr).split()
    return first[1] if len(first) > 1 else "unknown"


def check_languages(lang: str) -> None:
    have = available_languages()
    missing = [code for code in lang.split("+") if code not in have]
    if missing:
        pkgs = " ".join(f"tesseract-ocr-{m.replace('_', '-').lower()}" for m in missing)
        raise ConfigError(
            f"Tesseract has no language data for {'+'.join(missing)} (installed: {', '.join(sorted(have)) or 'none'})",
            hint=f"Debian/Ubuntu: apt-get install {pkgs}",
        )


# --------------------------------------------------------------------------------------------------
# TSV


def parse_tsv(tsv: str) -> list[TextLine]:
    """Tesseract TSV -> lines (block, paragraph, line) with word boxes and confidences 0..1."""
    lines: dict[tuple[int, int, int, int], TextLine] = {}
    reader = csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        if len(row) < 12 or row[0] != "5":
            continue
        text = row[11].strip()
        try:
            conf = float(row[10])
        except ValueError:
            continue
        if not text or conf < 0:
            continue
        left, top, width, height = (int(v) for v in row[6:10])
        key = (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        word = TextWord(
            text, max(0.0, min(1.0, conf / 100.0)), quad_from_box(left, top, left + width, top + height)
        )
        if key not in lines:
            lines[key] = TextLine(points=list(word.points))
        line = lines[key]
        line.words.append(word)
        xs = [p[0] for p in line.points] + [left, left + width]
        ys = [p[1] for p in line.points] + [top, top + height]
        line.points = quad_from_box(min(xs), min(ys), max(xs), max(ys))
    return list(lines.values())


class _Runner:
    """Runs Tesseract on images: in-process APIs per (thread, lang, psm), or the binary."""

    def __init__(self) -> None:
        self._local = threading.local()

    def tsv(self, image: Image.Image, lang: str, psm: int) -> str:
        return self.tsv_and_text(image, lang, psm, text=False)[0]

    def tsv_and_text(self, image: Image.Image, lang: str, psm: int, text: bool = True) -> tuple[str, str]:
        """Tesseract's TSV (word boxes) and, when `text`, its plain text of the same reading. The plain text
        spaces words as Tesseract means them (`preserve_interword_spaces` of its Korean, Chinese and Japanese
        data); the TSV cuts those scripts into syllables and characters."""
        kind = backend()
        check_languages(lang)
        if kind == "tesserocr":
            api = self._api(lang, psm)
            api.SetImage(image)
            return str(api.GetTSVText(0)), str(api.GetUTF8Text()) if text else ""
        return self._binary_tsv(image, lang, psm, text)

    def line_words(self, image: Image.Image, lang: str) -> list[TextWord]:
        """Words of one text line (`--psm 7`), in-process. Tesseract's TSV splits Hangul into syllables; its
        plain-text output spaces words correctly, so TSV pieces are merged back into the text's words."""
        api = self._api(lang, 7)
        api.SetImage(image)
        tsv = str(api.GetTSVText(0))
        text = str(api.GetUTF8Text())
        pieces = [w for line in parse_tsv(tsv) for w in line.words]
        return merge_pieces(pieces, text.split(), keep_pieces=True) or merge_by_gap(pieces)

    def _api(self, lang: str, psm: int) -> Any:
        apis: dict[tuple[str, int], Any] = getattr(self._local, "apis", None) or {}
        self._local.apis = apis
        key = (lang, psm)
        if key not in apis:
            mod = _tesserocr()
            assert mod is not None
            try:
                apis[key] = mod.PyTessBaseAPI(path=tessdata_dir(), lang=lang, psm=psm)
            except RuntimeError as exc:
                raise ConfigError(f"Tesseract could not load {lang!r}: {exc}", hint=INSTALL_HINT) from exc
        return apis[key]

    @staticmethod
    def _binary_tsv(image: Image.Image, lang: str, psm: int, text: bool) -> tuple[str, str]:
        binary = find_binary()
        if not binary:
            raise ConfigError("the tesseract binary is not installed", hint=INSTALL_HINT)
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        with tempfile.TemporaryDirectory(prefix="upstage-ocr-tess-") as tmp:
            src = Path(tmp) / "page.png"
            image.save(src, format="PNG")
            dpi = "300" if psm in (6, 7) else "150"
            out = Path(tmp) / "out"
            configs = ["tsv", "txt"] if text else ["tsv"]
            cmd = [binary, str(src), str(out), "-l", lang, "--psm", str(psm), "--dpi", dpi, *configs]
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, timeout=600, env=env, check=False, stdin=subprocess.DEVNULL
                )
            except subprocess.TimeoutExpired as exc:
                raise EngineError("Tesseract took more than 10 minutes on one page") from exc
            if proc.returncode != 0:
                raise EngineError(f"Tesseract failed: {proc.stderr.decode('utf-8', 'replace').strip()[:300]}")
            read = [out.with_suffix(f".{c}").read_text("utf-8", "replace") for c in configs]
        return read[0], read[1] if text else ""


_runner = _Runner()


def read_page(image: Image.Image, lang: str, psm: int = 3) -> list[TextLine]:
    """Tesseract's reading of a page: its lines, with words spaced as Tesseract's plain text spaces them."""
    tsv, text = _runner.tsv_and_text(image.convert("RGB") if image.mode != "RGB" else image, lang, psm)
    return respace(parse_tsv(tsv), text)


def respace(lines: list[TextLine], text: str) -> list[TextLine]:
    """`lines` (from the TSV) with their pieces joined into the words of Tesseract's plain `text`, so
    `화장품제조업자` and `我们的产品` stay whole; the lines as they are when the two do not line up."""
    owner = [i for i, line in enumerate(lines) for _ in line.words]
    pieces = [w for line in lines for w in line.words]
    merged = _group_pieces(pieces, text.split(), owner)
    if not merged:
        return lines
    out = [TextLine(points=line.points, words=[]) for line in lines]
    for index, word in merged:
        out[index].words.append(word)
    return [line for line in out if line.words]


def read_line_images(crops: Sequence[Image.Image], lang: str) -> list[list[TextWord]]:
    """Words of each single-line crop (boxes in that crop's frame), one list per crop, in order.

    In-process: one `--psm 7` call per crop (no start-up cost). Binary: the crops are stacked into one
    image, read in one process with `--psm 4`, and words are given back to the crop they fall in.
    """
    if not crops:
        return []
    if backend() == "tesserocr":
        check_languages(lang)
        return [
            _runner.line_words(crop.convert("RGB") if crop.mode != "RGB" else crop, lang) for crop in crops
        ]
    return [merge_by_gap(words) for words in _read_stacked(crops, lang)]


def _union(words: Sequence[TextWord], text: str, keep_pieces: bool = False) -> TextWord:
    xs = [p[0] for w in words for p in w.points]
    ys = [p[1] for w in words for p in w.points]
    chars = sum(len(w.text) for w in words) or 1
    conf = sum(w.confidence * len(w.text) for w in words) / chars
    pieces = list(words) if keep_pieces and len(words) > 1 else []
    return TextWord(text, conf, quad_from_box(min(xs), min(ys), max(xs), max(ys)), pieces)


def merge_pieces(
    pieces: Sequence[TextWord], tokens: Sequence[str], keep_pieces: bool = False
) -> list[TextWord]:
    """TSV pieces grouped into `tokens` (the words of the plain text); [] when they do not line up. With
    `keep_pieces`, a word joined from several pieces keeps them (`TextWord.pieces`: Hangul syllables and the
    runs of other characters between them, each with Tesseract's box and confidence)."""
    return [word for _, word in _group_pieces(pieces, tokens, [0] * len(pieces), keep_pieces)]


def _group_pieces(
    pieces: Sequence[TextWord], tokens: Sequence[str], owner: Sequence[int], keep_pieces: bool = False
) -> list[tuple[int, TextWord]]:
    """(owner of the first piece, joined word) for each token; [] when pieces and tokens do not line up or
    a token would join pieces of two owners (lines)."""
    out: list[tuple[int, TextWord]] = []
    i = 0
    for token in tokens:
        start = i
        acc = ""
        while i < len(pieces) and len(acc) < len(token):
            acc += pieces[i].text
            i += 1
        if acc != token or len(set(owner[start:i])) > 1:
            return []
        out.append((owner[start], _union(pieces[start:i], token, keep_pieces)))
    return out if i == len(pieces) else []


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e"


def merge_by_gap(pieces: Sequence[TextWord]) -> list[TextWord]:
    """Hangul syllables Tesseract reported as separate words, joined when the gap between them is small."""
    out: list[TextWord] = []
    group: list[TextWord] = []
    for piece in pieces:
        if group:
            prev = group[-1]
            gap = piece.points[0][0] - prev.points[1][0]
            height = max(prev.points[2][1] - prev.points[0][1], piece.points[2][1] - piece.points[0][1], 1.0)
            if _is_hangul(prev.text[-1]) and _is_hangul(piece.text[0]) and gap < 0.3 * height:
                group.append(piece)
                continue
            out.append(_union(group, "".join(w.text for w in group)))
        group = [piece]
    if group:
        out.append(_union(group, "".join(w.text for w in group)))
    return out


def _read_stacked(crops: Sequence[Image.Image], lang: str) -> list[list[TextWord]]:
    width = max(c.width for c in crops) + 2 * _LINE_GAP
    height = sum(c.height for c in crops) + _LINE_GAP * (len(crops) + 1)
    sheet = Image.new("RGB", (width, height), "white")
    offsets = []
    y = _LINE_GAP
    for crop in crops:
        sheet.paste(crop.convert("RGB"), (_LINE_GAP, y))
        offsets.append((y, y + crop.height))
        y += crop.height + _LINE_GAP
    results: list[list[TextWord]] = [[] for _ in crops]
    for line in parse_tsv(_runner.tsv(sheet, lang, 4)):
        for word in line.words:
            cy = (word.points[0][1] + word.points[2][1]) / 2
            for i, (top, bottom) in enumerate(offsets):
                if top - _LINE_GAP / 2 <= cy < bottom + _LINE_GAP / 2:
                    results[i].append(
                        TextWord(
                            word.text, word.confidence, [(x - _LINE_GAP, yy - top) for x, yy in word.points]
                        )
                    )
                    break
    for words in results:
        words.sort(key=lambda w: w.points[0][0])
    return results


class TesseractEngine:
    """Whole pages through Tesseract's own layout analysis (`--psm 3`)."""

    name = "tesseract"

    def __init__(self) -> None:
        backend()  # fail early, with the install hint, when Tesseract is missing

    @property
    def model_version(self) -> str:
        return f"local-tesseract-{tesseract_version()}"

    def model_version_for(self, lang: str | None) -> str:
        return self.model_version

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]:
        code = tesseract_lang(lang)
        lines = read_page(image, code)
        if not lines:  # its layout analysis finds no text on some clean Korean pages ("Empty page!!")
            lines = read_page(image, code, psm=6)
        return to_raw_words(lines, 0, image.size)
