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

import logging
import queue
import threading
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ConfigError, EngineError
from ..models import RawWord
from .layout import Quad, TextLine, TextWord, best_orientation, to_raw_words

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
        arr = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
        ocr = self._acquire()
        try:
            result = ocr(arr, return_word_box=True)
        except Exception as exc:
            raise EngineError(f"RapidOCR failed on the page: {exc}") from exc
        finally:
            self._release(ocr)
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
            if not words:
                words = split_line_words(str(text), float(scores[i]), quad)
            lines.append(TextLine(points=quad, words=words))
        return lines

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
