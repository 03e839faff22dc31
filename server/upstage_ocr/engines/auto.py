"""The `local` engine: RapidOCR for Latin/CJK text, the RapidOCR + Tesseract hybrid when `lang` is Korean."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from PIL import Image

from ..models import RawWord
from .langs import is_korean
from .rapid import RapidEngine

if TYPE_CHECKING:
    from .hybrid import HybridEngine


class LocalEngine:
    name = "local"

    def __init__(self, rapid: RapidEngine | None = None) -> None:
        self.rapid = rapid or RapidEngine()
        self._hybrid: HybridEngine | None = None
        self._lock = threading.Lock()

    def hybrid(self) -> HybridEngine:
        from .hybrid import HybridEngine

        with self._lock:
            if self._hybrid is None:
                self._hybrid = HybridEngine(self.rapid)
            return self._hybrid

    @property
    def model_version(self) -> str:
        return self.rapid.model_version

    def model_version_for(self, lang: str | None) -> str:
        if is_korean(lang):
            return self.hybrid().model_version_for(lang)
        return self.rapid.model_version

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]:
        if is_korean(lang):
            return self.hybrid().recognize(image, lang)
        return self.rapid.recognize(image, lang)
