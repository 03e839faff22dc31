"""The embedded offline engine: RapidOCR (PP-OCRv6 small, ONNX models shipped inside the `rapidocr` wheel).

- The per-line text-direction classifier is off (`Global.use_cls: False`): it flipped clean upright lines into
  garbage. Orientation is decided per page instead (`layout.best_orientation`: sideways pages by the shape of
  the detected boxes, upside-down pages by comparing confidences of 0 and 180 degree readings).
- Words come from `return_word_box=True`; lines are grouped into rows for reading order.
- Quiet: RapidOCR logs through its own "RapidOCR" logger (to stderr); we lower it to errors and never print.
- Thread-safe: each RapidOCR instance is used by one thread at a time (a small pool, one per worker), since
  `RapidOCR.__call__` mutates its own settings. Models load lazily, on the first page.
"""

from __future__ import annotations

import copy
import logging
import queue
import re
import threading
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ConfigError, EngineError
from ..models import RawWord
from .layout import Quad, TextLine, TextWord, best_orientation, to_raw_words
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


class RapidEngine:
    """RapidOCR with word boxes, page orientation and reading order."""

    name = "rapidocr"

    def __init__(self, *, max_instances: int | None = None, intra_threads: int | None = None) -> None:
        # One instance using every core (onnxruntime's intra-op threads) beat two single-threaded instances
        # on 2 cores (1.5 vs 1.9 s/page) and two all-core instances oversubscribe (3.8 s/page). Callers get
        # their parallelism by rendering the next page while this one is being recognised.
        self._max = max(1, max_instances or 1)
        self._intra = intra_threads
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._create_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self._max)

    @property
    def model_version(self) -> str:
        return f"local-rapidocr-{rapidocr_version()}-pp-ocrv6"

    # -- instances ----------------------------------------------------------------------------------

    def _new_instance(self) -> Any:
        quiet_logs()
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - a dependency
            raise ConfigError(
                "the local engine needs the rapidocr package", hint="pip install rapidocr onnxruntime"
            ) from exc
        params: dict[str, Any] = {"Global.use_cls": False, "Global.log_level": "error"}
        if self._intra:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self._intra
        ocr = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return ocr

    def _acquire(self) -> Any:
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

    def _release(self, ocr: Any) -> None:
        self._pool.put(ocr)
        self._slots.release()

    def warm_up(self) -> None:
        """Load the models now (the first page would otherwise pay for it)."""
        self.detect_boxes(Image.new("RGB", (64, 32), "white"))

    # -- raw passes ---------------------------------------------------------------------------------

    def read_lines(self, image: Image.Image) -> list[TextLine]:
        """One detection + recognition pass over `image` as it is (no rotation): lines with word boxes."""
        return self.read_lines_and_misses(image)[0]

    def read_lines_and_misses(self, image: Image.Image) -> tuple[list[TextLine], list[Quad]]:
        """`read_lines`, plus the boxes the detector found but the recogniser read as nothing (or below
        RapidOCR's score threshold): text in a script the shipped model lacks (Hangul) ends up there."""
        x0, y0, x1, y1 = content_box(image)
        if (x0, y0) == (0, 0) and (x1, y1) == image.size:
            return self._read(image, None)
        # Blank margins cost detection time and read nothing: read the inked part, then shift back. The part
        # is detected at the scale the whole page would have been (RapidOCR would enlarge a small part).
        limit = _page_det_limit(image.size, (x1 - x0, y1 - y0))
        lines, missed = self._read(image.crop((x0, y0, x1, y1)), limit)
        return _shift_lines(lines, x0, y0), [_shift(q, x0, y0) for q in missed]

    def _read(self, image: Image.Image, det_limit: int | None) -> tuple[list[TextLine], list[Quad]]:
        arr = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
        ocr = self._acquire()
        try:
            result, missed = _run_keeping_misses(ocr, arr, det_limit)
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
            ocr.update_params(return_word_box=False)
            result = ocr.recognize_txt(arrs)
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
            result = ocr(arr, use_rec=False)
        except Exception as exc:
            raise EngineError(f"RapidOCR's detector failed on the page: {exc}") from exc
        finally:
            ocr.use_rec = True  # update_params() keeps per-call flags on the instance
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


DET_LIMIT = 736  # RapidOCR's detector enlarges images whose shorter side is below this (Det.limit_side_len)


def _page_det_limit(page: tuple[int, int], part: tuple[int, int]) -> int:
    """The detector limit under which a part of a page is scaled as the whole page would be: not at all when
    the page's shorter side reaches DET_LIMIT, by the page's own factor otherwise."""
    factor = max(1.0, DET_LIMIT / max(1, min(page)))
    return max(32, min(DET_LIMIT, round(min(part) * factor)))


def _run_keeping_misses(
    ocr: Any, arr: np.ndarray, det_limit: int | None = None
) -> tuple[Any, list[Quad] | None]:
    """RapidOCR's own `__call__`, step by step, keeping the boxes whose reading it drops (empty or below its
    `text_score`). `None` for those when this RapidOCR lacks the steps (then it is a plain call).
    `det_limit` replaces the detector's shorter-side limit for this call."""
    try:
        from rapidocr.utils.process_img import map_boxes_to_original

        steps = (ocr.load_img, ocr.preprocess_img, ocr.run_ocr_steps, ocr.build_final_output)
    except (ImportError, AttributeError):
        return ocr(arr, return_word_box=True), None
    load, preprocess, run_steps, build = steps
    ocr.update_params(use_det=True, use_rec=True, return_word_box=True)
    original = load(arr)
    img, op_record = preprocess(original)
    detector = _detector(ocr) if det_limit else None
    saved = getattr(detector, "limit_side_len", None)
    if detector is not None and isinstance(saved, int):
        detector.limit_side_len = det_limit
    try:
        det, cls, rec, crops = run_steps(img, op_record)
    finally:
        if detector is not None and isinstance(saved, int):
            detector.limit_side_len = saved
    missed: list[Quad] = []
    if det.boxes is not None and rec.txts is not None and rec.scores is not None:
        h, w = original.shape[:2]
        boxes = map_boxes_to_original(np.array(det.boxes, dtype=np.float32), copy.deepcopy(op_record), h, w)
        for box, text, score in zip(boxes, rec.txts, rec.scores, strict=False):
            if not str(text).strip() or float(score) < float(ocr.text_score):
                missed.append([(float(x), float(y)) for x, y in box])
    return build(original, det, cls, rec, crops, op_record), missed


def _detector(ocr: Any) -> Any:
    """RapidOCR's text detector (loaded now if it was not yet); None when this RapidOCR has no such part."""
    load = getattr(ocr, "_load_det_model", None)
    try:
        return load() if callable(load) else getattr(ocr, "text_det", None)
    except Exception:  # pragma: no cover - a RapidOCR of another shape: keep its own limit
        return None


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
