"""The one error tree of upstage-ocr: every failure a user can meet, with an actionable message and exit code.

    OCRError                          exit 1   base class; never raised directly
    ├── InputError                    exit 2   bad input noticed before any work is done
    │   ├── FileMissingError          exit 2   path does not exist / is a directory / unreadable / empty
    │   ├── UnsupportedFormatError    exit 3   neither extension nor magic bytes in the supported list (HTTP 415)
    │   ├── FileTooLargeError         exit 4   over 50 MB, over the page or pixel limits (HTTP 413)
    │   ├── CorruptDocumentError      exit 5   the document cannot be decoded (HTTP 422)
    │   ├── PageRangeError            exit 2   a page range that is malformed or outside the document
    │   ├── URLError                  exit 2   a URL that may not or could not be fetched
    │   └── OutputPathError           exit 2   an output path that cannot be written
    ├── ConfigError                   exit 6   an unknown engine / schema, a missing optional dependency
    ├── AuthenticationError           exit 10  missing or invalid UPSTAGE_API_KEY (HTTP 401)
    ├── CreditError                   exit 11  no credit left / forbidden (HTTP 402, 403)
    ├── BadRequestError               exit 12  the API rejected the request (HTTP 400, other 4xx)
    ├── RateLimitError                exit 13  still rate limited after every retry (HTTP 429)
    ├── ServerError                   exit 14  the API failed (5xx) after every retry
    ├── NetworkError                  exit 15  the API could not be reached
    ├── APITimeoutError               exit 16  the API did not answer in time
    ├── JobError                      exit 17  an unknown job id, a failed job, a job not finished yet
    └── EngineError                   exit 18  the local engine failed on a page

No message ever contains the API key: `redact()` runs over every message built from outside text.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

_SECRET_PATTERNS = [
    re.compile(r"up_[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{6,}"),
]
_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (the API key, the HTTP token) so `redact` removes it wherever it appears."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every known secret and anything shaped like an Upstage key masked."""
    for secret in sorted(_extra_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _SECRET_PATTERNS[0].sub("up_***", text)
    text = _SECRET_PATTERNS[1].sub(r"\1***", text)
    return text


def mask(value: str | None) -> str:
    """A key shown the only way it may be shown: its prefix and last two characters, at most."""
    if not value:
        return "(not set)"
    if len(value) <= 8:
        return "***"
    return f"{value[:3]}…{value[-2:]} ({len(value)} chars)"


class OCRError(Exception):
    """Base of every upstage-ocr error. `str(err)` is one line that says what happened and what to do."""

    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "ocr_error"

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None, **details: Any):
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        self.status = status
        self.details = details
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text}. {self.hint}" if not text.endswith((".", "!", "?")) else f"{text} {self.hint}"
        return text.replace("\n", " ")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "exit_code": self.exit_code, "status": self.status}


class InputError(OCRError):
    exit_code = 2
    code = "bad_input"


class FileMissingError(InputError):
    code = "file_missing"


class UnsupportedFormatError(InputError):
    exit_code = 3
    code = "unsupported_format"


class FileTooLargeError(InputError):
    exit_code = 4
    code = "too_large"


class CorruptDocumentError(InputError):
    exit_code = 5
    code = "corrupt_document"


class PageRangeError(InputError):
    code = "bad_page_range"


class URLError(InputError):
    code = "bad_url"


class OutputPathError(InputError):
    code = "bad_output_path"


class ConfigError(OCRError):
    exit_code = 6
    code = "config_error"


class AuthenticationError(OCRError):
    exit_code = 10
    code = "unauthorized"


class CreditError(OCRError):
    exit_code = 11
    code = "no_credit"


class BadRequestError(OCRError):
    exit_code = 12
    code = "bad_request"


class RateLimitError(OCRError):
    exit_code = 13
    code = "rate_limited"


class ServerError(OCRError):
    exit_code = 14
    code = "server_error"


class NetworkError(OCRError):
    exit_code = 15
    code = "network_error"


class APITimeoutError(OCRError):
    exit_code = 16
    code = "timeout"


class JobError(OCRError):
    exit_code = 17
    code = "job_error"


class StoreError(JobError):
    """The job store could not be written (disk full, I/O error, read-only): nothing of the job is lost."""


class EngineError(OCRError):
    exit_code = 18
    code = "engine_error"


NO_KEY_HINT = (
    "Set UPSTAGE_API_KEY (get a key at https://console.upstage.ai/api-keys), "
    "or use the offline engine with --engine local (MCP: engine='local')"
)
