"""Results of the API as pages: a downloaded async batch's pages with absolute ids, and a document from pages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .. import models

log = logging.getLogger("upstage_ocr.upstage")


def batch_pages(batch_json: dict[str, Any], start_page: int) -> list[models.Page]:
    """The pages of a downloaded batch, with absolute 0-based page ids.

    Batches should carry absolute ids already (page `start_page` has id `start_page - 1`). If a batch that
    starts after page 1 numbers its pages from 0 instead, the ids are shifted by `start_page - 1`.
    """
    result = models.parse_result(batch_json)
    pages = list(result.pages)
    if not pages:
        return []
    shift = start_page - 1 if start_page > 1 and min(p.id for p in pages) == 0 else 0
    if shift:
        log.debug("batch starting at page %d has batch-relative ids; shifting by %d", start_page, shift)
    return [p.model_copy(update={"id": p.id + shift}) if shift else p for p in pages]


def result_from_pages(pages: Sequence[models.Page], model_version: str, billed: int = 0) -> models.OCRResult:
    """The document result from its pages (sorted by page id), with the API's assembly rules."""
    return models.assemble(sorted(pages, key=lambda p: p.id), model_version, billed)
