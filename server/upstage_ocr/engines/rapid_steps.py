"""RapidOCR's pipeline run step by step: the boxes it drops are kept, the detector's scale is ours to set, and
with the tiny models installed the tiny detector and the tiny-then-small recogniser (`cascade.py`) run it.

RapidOCR's own `__call__` is `load_img` > `preprocess_img` > `run_ocr_steps` > `build_final_output`; we call
those steps ourselves, replacing the middle one on the tiny path.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .cascade import cascade_recognise
from .geometry import Quad

DET_LIMIT = 736  # RapidOCR's detector enlarges images whose shorter side is below this (Det.limit_side_len)
# The tiny detector finds lines as well on pages scaled so their longer side is about this many pixels (an A4
# page at 150 DPI scaled by 0.6) at a third of the cost; never scaled below TINY_DET_MIN_SCALE, so the text
# of a large photo does not shrink below what the detector sees well.
TINY_DET_SIDE = 1056
TINY_DET_MIN_SCALE = 0.6
TINY_DET_MIN_SIDE = 320  # ... and an image is not scaled so its shorter side ends below this


def page_det_limit(page: tuple[int, int], part: tuple[int, int]) -> int:
    """The detector limit under which a part of a page is scaled as the whole page would be: not at all when
    the page's shorter side reaches DET_LIMIT, by the page's own factor otherwise."""
    factor = max(1.0, DET_LIMIT / max(1, min(page)))
    return max(32, min(DET_LIMIT, round(min(part) * factor)))


def tiny_det_scale(page: tuple[int, int]) -> float:
    """By how much the tiny detector scales a page (or any part of it) of this size in pixels."""
    short, long = min(page), max(page)
    if short < DET_LIMIT:  # small images are enlarged, as RapidOCR does
        return DET_LIMIT / max(1, short)
    return min(1.0, max(TINY_DET_MIN_SCALE, TINY_DET_SIDE / long))


def run_keeping_misses(
    ocr: Any, arr: np.ndarray, det_limit: int | None = None, tiny: Any = None, det_scale: float = 1.0
) -> tuple[Any, list[Quad] | None]:
    """RapidOCR's own `__call__`, step by step, keeping the boxes whose reading it drops (empty or below its
    `text_score`). `None` for those when this RapidOCR lacks the steps (then it is a plain call).
    `det_limit` replaces the detector's shorter-side limit for this call. With `tiny` (a RapidOCR on the
    tiny models) the tiny detector finds the lines on the image scaled by `det_scale` and
    `cascade.cascade_recognise` reads them (the small RapidOCR `ocr` reads the lines the tiny one is unsure of)."""
    runner = tiny if tiny is not None else ocr
    try:
        from rapidocr.utils.process_img import map_boxes_to_original

        steps = (runner.load_img, runner.preprocess_img, runner.run_ocr_steps, runner.build_final_output)
    except (ImportError, AttributeError):
        return runner(arr, return_word_box=True), None
    load, preprocess, run_steps, build = steps
    runner.update_params(use_det=True, use_rec=True, return_word_box=True)
    original = load(arr)
    img, op_record = preprocess(original)
    if tiny is not None:
        det, cls, rec, crops = cascade_steps(tiny, ocr, img, op_record, det_scale)
    else:
        det, cls, rec, crops = _with_limit(ocr, det_limit, run_steps, img, op_record)
    missed: list[Quad] = []
    if det.boxes is not None and rec.txts is not None and rec.scores is not None:
        h, w = original.shape[:2]
        boxes = map_boxes_to_original(np.array(det.boxes, dtype=np.float32), copy.deepcopy(op_record), h, w)
        for box, text, score in zip(boxes, rec.txts, rec.scores, strict=False):
            if not str(text).strip() or float(score) < float(runner.text_score):
                missed.append([(float(x), float(y)) for x, y in box])
    return build(original, det, cls, rec, crops, op_record), missed


def _with_limit(ocr: Any, det_limit: int | None, run_steps: Any, img: np.ndarray, op_record: Any) -> Any:
    detector = _detector(ocr) if det_limit else None
    saved = getattr(detector, "limit_side_len", None)
    if detector is not None and isinstance(saved, int):
        detector.limit_side_len = det_limit
    try:
        return run_steps(img, op_record)
    finally:
        if detector is not None and isinstance(saved, int):
            detector.limit_side_len = saved


def cascade_steps(
    tiny: Any, small: Any, img: np.ndarray, op_record: dict[str, Any], det_scale: float
) -> tuple[Any, ...]:
    """RapidOCR's `run_ocr_steps` with the tiny detector (on `img` scaled by `det_scale` times the
    preprocessing's own factor) and the tiny-then-small recogniser; boxes and crops in `img`'s frame."""
    import cv2
    from rapidocr.ch_ppocr_cls import TextClsOutput
    from rapidocr.ch_ppocr_det import TextDetOutput
    from rapidocr.ch_ppocr_rec import TextRecOutput

    img = _padded(tiny, img, op_record)
    # op_record's ratios map preprocessed pixels back to original ones; det_scale is in original pixels
    scale = det_scale * float(op_record.get("preprocess", {}).get("ratio_w", 1.0))
    # a small part of a page is cheap to detect whole, and scaled down it would leave too little to see
    scale = max(scale, min(1.0, TINY_DET_MIN_SIDE / max(1, min(img.shape[:2]))))
    seen = img
    if abs(scale - 1.0) > 0.02:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        seen = cv2.resize(img, None, fx=scale, fy=scale, interpolation=interpolation)
    det = tiny._load_det_model()(seen)
    if det.boxes is None or len(det.boxes) == 0:
        return TextDetOutput(), TextClsOutput(), TextRecOutput(), []
    det.boxes = (np.asarray(det.boxes, dtype=np.float32) / np.float32(scale)).astype(np.float32)
    det.img = img
    crops = tiny.crop_text_regions(img, det.boxes)
    rec = cascade_recognise(tiny._load_rec_model(), small._load_rec_model(), crops)
    return det, TextClsOutput(), rec, crops


def _padded(ocr: Any, img: np.ndarray, op_record: dict[str, Any]) -> np.ndarray:
    """RapidOCR's padding of very wide or very short images before detection (recorded in `op_record`)."""
    from rapidocr.utils.process_img import apply_vertical_padding

    if ocr.cfg.Global.use_vertical_padding:
        img, _ = apply_vertical_padding(img, op_record, ocr.width_height_ratio, ocr.min_height)
    else:
        op_record["padding_1"] = {"top": 0, "left": 0}
    return img


def _detector(ocr: Any) -> Any:
    """RapidOCR's text detector (loaded now if it was not yet); None when this RapidOCR has no such part."""
    load = getattr(ocr, "_load_det_model", None)
    try:
        return load() if callable(load) else getattr(ocr, "text_det", None)
    except Exception:  # pragma: no cover - a RapidOCR of another shape: keep its own limit
        return None
