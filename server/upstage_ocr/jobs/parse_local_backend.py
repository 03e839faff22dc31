"""The local parse backend: each page image and its words through the local parse engine
(`parsing.parse_page`), committed to the store page by page like a local OCR job, in page order. The words
are the local OCR engine's, or, with `ocr=auto`, a PDF page's trustworthy text layer (the page is still
rendered: rules and figures are found in its ink).

Of the Upstage options it honours `output_formats`, `base64_encoding` and `coordinates`; `mode`,
`chart_recognition` and `merge_multipage_tables` are the API's (they are part of the job key all the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from ..engines.base import Engine
from ..models import Word
from .job import Job
from .local_backend import LayerPage, LocalBackend, model_version_for, recognize_page
from .parse_store import ParsePage, parse_options


class LocalParseBackend(LocalBackend):
    def _model_version(self, job: Job) -> str:
        from ..parsing import LOCAL_PARSE_MODEL

        return f"{LOCAL_PARSE_MODEL}+{model_version_for(job.engine, job.options.get('lang'))}"

    def _ocr_mode(self, job: Job) -> str:
        return parse_options(job).ocr

    def _recognizer(self, job: Job) -> Callable[[Engine, Image.Image, int, str | None], Any]:
        elements = self._elements(job)

        def parse(engine: Engine, image: Image.Image, page_index: int, lang: str | None) -> ParsePage:
            return elements(image, recognize_page(engine, image, page_index, lang).words, page_index)

        return parse

    def _layer_reader(self, job: Job) -> Callable[[LayerPage, int], Any]:
        elements = self._elements(job)

        def parse(layer: LayerPage, page_index: int) -> ParsePage:
            # a born-digital page: the text layer's words, the render for rules and figures, no OCR
            return elements(layer.image, layer.page.words, page_index)

        return parse

    @staticmethod
    def _elements(job: Job) -> Callable[[Image.Image, list[Word], int], ParsePage]:
        options = parse_options(job)

        def elements(image: Image.Image, words: list[Word], page_index: int) -> ParsePage:
            from ..parsing import parse_page

            # page_index is the page's place in the document (not in the job's selection)
            found = parse_page(image, words, page_index + 1, base64_categories=options.base64_encoding)
            if not options.coordinates:  # as the API does with coordinates=false
                found = [e.model_copy(update={"coordinates": []}) for e in found]
            return ParsePage(elements=found)

        return elements
