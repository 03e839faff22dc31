"""The shipped local engines, registered lazily: importing this module loads no model.

`local` (RapidOCR; the RapidOCR + Tesseract hybrid when lang is Korean), `rapidocr` (RapidOCR only),
`local-kor` (the hybrid) share one set of RapidOCR models; `tesseract` is Tesseract alone.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .base import Engine, register_engine

if TYPE_CHECKING:
    from .local import LocalEngine

_shared: LocalEngine | None = None
_shared_lock = threading.Lock()  # not the registry's lock: factories run while it is held


def shared_local() -> LocalEngine:
    global _shared
    with _shared_lock:
        if _shared is None:
            from .local import LocalEngine

            _shared = LocalEngine()
        return _shared


def _local() -> Engine:
    return shared_local()


def _rapidocr() -> Engine:
    return shared_local().rapid


def _local_kor() -> Engine:
    return shared_local().hybrid()


def _tesseract() -> Engine:
    from .tesseract import TesseractEngine

    return TesseractEngine()


def register_all() -> None:
    register_engine("local", _local)
    register_engine("rapidocr", _rapidocr)
    register_engine("local-kor", _local_kor)
    register_engine("tesseract", _tesseract)
