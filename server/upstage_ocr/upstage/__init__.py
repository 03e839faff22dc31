"""The Upstage Document Digitization API client (sync OCR, async submit/poll/download, retries, rate limit)."""

from .client import (
    RateLimiter,
    UpstageClient,
    batch_pages,
    parse_error_body,
    parse_retry_after,
    pdf_subset,
    result_from_pages,
)

__all__ = [
    "RateLimiter",
    "UpstageClient",
    "batch_pages",
    "parse_error_body",
    "parse_retry_after",
    "pdf_subset",
    "result_from_pages",
]
