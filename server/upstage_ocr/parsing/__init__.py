"""The local Document Parse engine: a page image and its words -> Upstage Document Parse elements.

    from upstage_ocr.parsing import parse_page, assemble
    elements = parse_page(image, words, page_number=1)        # one page, reading order, ids from 0
    result = assemble([elements, ...], ["html", "markdown"])  # ParseResult, global ids, document content

Importing this package loads no model and no native image code.
"""

from __future__ import annotations

from .document import LOCAL_PARSE_MODEL, assemble, check_formats
from .page import parse_page
from .words import PageWord, to_page_words

__all__ = ["LOCAL_PARSE_MODEL", "PageWord", "assemble", "check_formats", "parse_page", "to_page_words"]
