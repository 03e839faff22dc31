"""The local parse backend: each page image and its words (the local OCR engine's) through the local parse
engine (`parsing.parse_page`), committed to the store page by page like a local OCR job, in page order.

Of the Upstage options it honours `output_formats`, `base64_encoding` and `coordinates`; `mode`,
`chart_recognition` and `merge_multipage_tables` are the API's (they are part of the job key all the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from ..engines.base import Engine
from .job import Job
from .local_backend import LocalBackend, model_version_for, recognize_page
from .parse_store import ParsePage, parse_options


class LocalParseBackend(LocalBackend):
    def _model_version(self, job: Job) -> str:
        from ..parsing import LOCAL_PARSE_MODEL

        return f"{LOCAL_PARSE_MODEL}+{model_version_for(job.engine, job.options.get('lang'))}"

    def _recognizer(self, job: Job) -> Callable[[Engine, Image.Image, int, str | None], Any]:
        options = parse_options(job)
        base64_categories = options.base64_encoding

        def parse(engine: Engine, image: Image.Image, page_index: int, lang: str | None) -> ParsePage:
            from ..parsing import parse_page

            words = recognize_page(engine, image, page_index, lang).words
            # page_index is the page's place in the document (not in the job's selection)
            elements = parse_page(image, words, page_index + 1, base64_categories=base64_categories)
            if not options.coordinates:  # as the API does with coordinates=false
                elements = [e.model_copy(update={"coordinates": []}) for e in elements]
            return ParsePage(elements=elements)

        return parse
