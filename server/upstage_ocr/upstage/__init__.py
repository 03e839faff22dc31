"""The Upstage Document Digitization API client (sync OCR, async submit/poll/download, retries, rate limit)."""

from .client import UpstageClient
from .pacing import RateLimiter, parse_retry_after
from .responses import parse_error_body
from .results import batch_pages, result_from_pages
from .uploads import pdf_subset

__all__ = [
    "RateLimiter",
    "UpstageClient",
    "batch_pages",
    "parse_error_body",
    "parse_retry_after",
    "pdf_subset",
    "result_from_pages",
]
