"""What the API answers when it fails, made into the project's errors: the body's message and code (JSON, text
or HTML), the `errors` class and hint for each HTTP status, and secret-free descriptions of URLs and
transport failures."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import errors

RATE_LIMITED_CODE = "too_many_requests"


def one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html_text(text: str) -> str:
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title and title.group(1).strip():
        return title.group(1)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.I | re.S)
    if heading:
        return re.sub(r"<[^>]+>", " ", heading.group(1))
    return re.sub(r"<[^>]+>", " ", text)


def parse_error_body(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from any error body the API may send: `{"error":{...}}`, `{message}`, text, HTML."""
    try:
        raw = response.content
    except httpx.ResponseNotRead:
        return "", None
    text = raw.decode("utf-8", "replace") if raw else ""
    data: Any = None
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    message = ""
    code: str | None = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            message = str(err.get("message") or "")
            found = [str(err[key]) for key in ("code", "type") if err.get(key)]
            code = RATE_LIMITED_CODE if RATE_LIMITED_CODE in found else (found[0] if found else None)
        elif isinstance(err, str):
            message = err
        if not message:
            for key in ("message", "detail", "error_description", "msg"):
                value = data.get(key)
                if isinstance(value, str) and value:
                    message = value
                    break
                if isinstance(value, list | dict) and value:
                    message = json.dumps(value)[:300]
                    break
        if code is None:
            for key in ("code", "type"):
                if isinstance(data.get(key), str) and data[key]:
                    code = str(data[key])
                    break
        if not message:
            message = json.dumps(data)[:300]
    elif text:
        message = _html_text(text) if "<html" in text.lower() or "<body" in text.lower() else text
    return errors.redact(one_line(message)), code


def is_rate_limited_body(response: httpx.Response) -> bool:
    """True when an error body says `too_many_requests` (in `error.code`, `error.type` or `code`)."""
    if len(response.content) > 65536:
        return False
    return parse_error_body(response)[1] == RATE_LIMITED_CODE


def safe_url(url: str | httpx.URL) -> str:
    """scheme://host/path of a URL: no user info, no query (pre-signed URLs carry tokens there)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def exc_text(exc: BaseException) -> str:
    """A one-line, secret-free description of a transport exception (never the request headers)."""
    detail = str(exc).strip()
    name = type(exc).__name__
    return errors.redact(one_line(f"{name}: {detail}" if detail else name, 200))


_REFUSALS: dict[int, tuple[type[errors.OCRError], str, str]] = {
    401: (
        errors.AuthenticationError,
        "the Upstage API rejected the API key for {what} ({tag}){said}",
        errors.NO_KEY_HINT,
    ),
    402: (
        errors.CreditError,
        "the Upstage API refused {what}: no credit left or access forbidden ({tag}){said}",
        "Check the credit and plan of the account at https://console.upstage.ai, "
        "or use the offline engine with --engine local",
    ),
    404: (
        errors.BadRequestError,
        "the Upstage API found nothing for {what} ({tag}){said}",
        "Check the request id, and that UPSTAGE_BASE_URL points to https://api.upstage.ai/v1",
    ),
    413: (
        errors.FileTooLargeError,
        "the Upstage API says the document is too large for {what} ({tag}){said}",
        "Send at most 50 MB and 100 pages per request: pick pages, split the file, or use async",
    ),
    415: (
        errors.UnsupportedFormatError,
        "the Upstage API does not support this document format ({tag}){said}",
        "Convert it to PDF, PNG or JPEG and retry",
    ),
    422: (
        errors.CorruptDocumentError,
        "the Upstage API could not read the document ({tag}){said}",
        "Check that the file opens, re-save or convert it, and retry",
    ),
}
_REFUSALS[403] = _REFUSALS[402]


def error_for(
    response: httpx.Response, what: str, *, attempts: int = 1, rate_limited: bool = False
) -> errors.OCRError:
    """The `errors` class, one-line message and hint for a failed HTTP response."""
    status = response.status_code
    message, code = parse_error_body(response)
    said = f": {message}" if message else ""
    tag = f"status={status}" + (f", code={code}" if code and code not in message else "")
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    if rate_limited:
        return errors.RateLimitError(
            f"the Upstage API is still rate limiting {what}{tries} ({tag}){said}",
            hint="Wait a minute and retry, or lower UPSTAGE_OCR_RATE_LIMIT",
            status=status,
        )
    if status in _REFUSALS:
        cls, text, hint = _REFUSALS[status]
        return cls(text.format(what=what, tag=tag, said=said), hint=hint, status=status)
    if status < 500:
        return errors.BadRequestError(
            f"the Upstage API rejected {what} ({tag}){said}",
            hint="Check the model (UPSTAGE_OCR_MODEL), schema and file, and UPSTAGE_BASE_URL (https)",
            status=status,
        )
    return errors.ServerError(
        f"the Upstage API failed on {what}{tries} ({tag}){said}",
        hint="Retry in a few minutes (finished pages are kept), or use --engine local",
        status=status,
    )


def maybe_accepted(err: errors.OCRError) -> errors.OCRError:
    """The same error, telling the user the submit may have created a job anyway (so: not retried)."""
    return type(err)(
        err.message,
        hint="The submit may have reached Upstage: check `list_requests` "
        "(GET /document-digitization/requests) before submitting again",
        status=err.status,
    )


def transport_failure(
    exc: httpx.TransportError, what: str, idempotent: bool, timeout: float, base_url: str
) -> errors.OCRError:
    """The error for a request that got no answer; raised at once when a retry could do harm or no good."""
    if isinstance(exc, httpx.TimeoutException):
        error: errors.OCRError = errors.APITimeoutError(
            f"the Upstage API did not answer {what} within {timeout:g} s ({exc_text(exc)})",
            hint="Retry later, raise UPSTAGE_OCR_TIMEOUT, or send fewer pages per request",
        )
        ambiguous = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.WriteTimeout)
    else:
        error = errors.NetworkError(
            f"could not reach the Upstage API at {safe_url(base_url)} for {what} ({exc_text(exc)})",
            hint="Check the network connection, proxy settings and UPSTAGE_BASE_URL, then retry",
        )
        ambiguous = not isinstance(exc, httpx.ConnectError | httpx.WriteError | httpx.UnsupportedProtocol)
        if isinstance(exc, httpx.UnsupportedProtocol):
            raise error from exc
    if not idempotent and ambiguous:
        raise maybe_accepted(error) from exc
    return error
