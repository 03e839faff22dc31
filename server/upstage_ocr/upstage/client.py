"""The async client for Upstage's Document Digitization API (OCR): sync, async submit/poll/download, retries.

One `httpx.AsyncClient` per `UpstageClient`. Every call to the API goes through `_send`, the only place that
retries (429, 5xx, connection errors, timeouts; full-jitter exponential backoff; `Retry-After` honoured) and
the only place that turns HTTP failures into the `errors` tree. A client-side rate limiter, shared by every
concurrent caller of one instance, spaces API requests (`settings.rate_limit` per second); batch downloads
from pre-signed URLs are not limited and never carry the Authorization header.

The API key is sent in a header only; no message, log line or repr built here contains it.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import mimetypes
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx

from .. import __version__, errors, models
from ..settings import Settings

log = logging.getLogger("upstage_ocr.upstage")

# Retry policy ---------------------------------------------------------------------------------------------
BACKOFF_BASE = 1.0
"""Seconds: the first retry waits uniform(0, BACKOFF_BASE); each further one doubles the ceiling."""
BACKOFF_CAP = 30.0
"""Seconds: the ceiling of one backoff wait."""
POLL_SECONDS = 2.0
"""Seconds between status polls of an async request while batches arrive."""
MAX_POLL_SECONDS = 15.0
"""Seconds: the longest wait between polls (the wait grows x1.5 per poll that brings nothing new)."""
RETRY_AFTER_CAP = 60.0
"""Seconds: the longest `Retry-After` we honour; longer values are cut to this."""
MAX_DOWNLOAD_REFRESHES = 3
"""How many times a batch download asks the API for a fresh URL (expired 403, or an empty URL)."""
RATE_LIMIT_HEADROOM = 1.05
"""Requests are spaced (1/rate) x this apart: the server counts arrivals, which jitter a little."""
CONNECT_TIMEOUT_CAP = 30.0
"""Seconds: the connect timeout is min(settings.timeout, this)."""
RATE_LIMITED_CODE = "too_many_requests"

# Endpoints, relative to settings.base_url.
SYNC_PATH = "document-digitization"
ASYNC_PATH = "document-digitization/async"
REQUESTS_PATH = "document-digitization/requests"

TERMINAL_STATUSES = frozenset({"completed", "failed"})

_EXTRA_MIME = {
    ".hwp": "application/x-hwp",
    ".hwpx": "application/hwp+zip",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

SleepFn = Callable[[float], Awaitable[None]]
ClockFn = Callable[[], float]


# ----------------------------------------------------------------------------------------------------------
# Helpers


def guess_mime(filename: str) -> str:
    """The MIME type to declare on the `document` part, from the file name."""
    ext = Path(filename).suffix.lower()
    if ext in _EXTRA_MIME:
        return _EXTRA_MIME[ext]
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**(attempt-1))) for the wait after failed attempt `attempt`."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)


def _one_line(text: str, limit: int = 300) -> str:
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
    return errors.redact(_one_line(message)), code


def _is_rate_limited_body(response: httpx.Response) -> bool:
    """True when an error body says `too_many_requests` (in `error.code`, `error.type` or `code`)."""
    if len(response.content) > 65536:
        return False
    return parse_error_body(response)[1] == RATE_LIMITED_CODE


def _safe_url(url: str | httpx.URL) -> str:
    """scheme://host/path of a URL: no user info, no query (pre-signed URLs carry tokens there)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _exc_text(exc: BaseException) -> str:
    """A one-line, secret-free description of a transport exception (never the request headers)."""
    detail = str(exc).strip()
    name = type(exc).__name__
    return errors.redact(_one_line(f"{name}: {detail}" if detail else name, 200))


# ----------------------------------------------------------------------------------------------------------
# Rate limiting


class RateLimiter:
    """Spaces request starts at least `headroom`/rate seconds apart, for every concurrent caller sharing it.

    Each caller reserves the next free slot without waiting for a lock, then sleeps until its slot, so
    N concurrent callers start at 0, 1/rate, 2/rate, ... A caller cancelled while waiting leaves its slot
    unused, which only makes the limiter more conservative.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: ClockFn = time.monotonic,
        sleep: SleepFn = anyio.sleep,
        headroom: float = RATE_LIMIT_HEADROOM,
    ):
        if rate <= 0:
            raise errors.ConfigError("the rate limit must be greater than 0")
        self.interval = headroom / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    async def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            await self._sleep(delay)
        return delay


# ----------------------------------------------------------------------------------------------------------
# The client


class UpstageClient:
    """Async client for the Upstage Document Digitization API.

    `UpstageClient(settings, transport=...)`; use it as `async with` or call `aclose()`. `sleep`, `clock`,
    `backoff_base`, `backoff_cap` and `rng` exist so tests can run retries and polling instantly.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: SleepFn | None = None,
        clock: ClockFn | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        errors.register_secret(settings.api_key)
        self._sleep: SleepFn = sleep or anyio.sleep
        self._clock: ClockFn = clock or time.monotonic
        self.backoff_base = BACKOFF_BASE if backoff_base is None else backoff_base
        self.backoff_cap = BACKOFF_CAP if backoff_cap is None else backoff_cap
        self._rng = rng or random.Random()
        self.max_attempts = max(1, int(settings.max_retries))
        self.limiter = RateLimiter(settings.rate_limit, clock=self._clock, sleep=self._sleep)
        base = settings.base_url.rstrip("/") + "/"
        self._base_url = base
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, CONNECT_TIMEOUT_CAP))
        self._http = httpx.AsyncClient(
            base_url=base,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": f"upstage-ocr/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"UpstageClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> UpstageClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        key = (self.settings.api_key or "").strip()
        if not key:
            raise errors.AuthenticationError("no Upstage API key is set", hint=errors.NO_KEY_HINT)
        return {"Authorization": f"Bearer {key}"}

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        auth: bool = True,
        limited: bool = True,
        idempotent: bool = True,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        passthrough: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one logical request with retries; returns a 2xx response (or one whose status is in
        `passthrough`), else raises the mapped error.

        Retried: 429 (and bodies with `too_many_requests`), 5xx, connection errors and timeouts. A request
        that is not `idempotent` (an async submit) is not retried after an error that may have reached the
        server (read errors and read timeouts), since that could create a second, billed, job.
        """
        headers = self._auth_headers() if auth else {}
        last_error: errors.OCRError | None = None
        for attempt in range(1, self.max_attempts + 1):
            if limited:
                await self.limiter.acquire()
            retry_after: float | None = None
            started = self._clock()
            try:
                response = await self._http.request(method, url, headers=headers, data=data, files=files)
            except httpx.TimeoutException as exc:
                last_error = errors.APITimeoutError(
                    f"the Upstage API did not answer {what} within {self.settings.timeout:g} s "
                    f"({_exc_text(exc)})",
                    hint="Retry later, raise UPSTAGE_OCR_TIMEOUT, or send fewer pages per request",
                )
                ambiguous = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.WriteTimeout)
                if not idempotent and ambiguous:
                    raise self._maybe_accepted(last_error) from exc
                log.warning("%s: timeout on attempt %d/%d", what, attempt, self.max_attempts)
            except httpx.TransportError as exc:
                last_error = errors.NetworkError(
                    f"could not reach the Upstage API at {_safe_url(self._base_url)} for {what} "
                    f"({_exc_text(exc)})",
                    hint="Check the network connection, proxy settings and UPSTAGE_BASE_URL, then retry",
                )
                ambiguous = not isinstance(
                    exc, httpx.ConnectError | httpx.WriteError | httpx.UnsupportedProtocol
                )
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise last_error from exc
                if not idempotent and ambiguous:
                    raise self._maybe_accepted(last_error) from exc
                log.warning("%s: %s on attempt %d/%d", what, type(exc).__name__, attempt, self.max_attempts)
            else:
                status = response.status_code
                log.debug(
                    "%s %s -> %d in %.2f s",
                    method,
                    _safe_url(response.request.url),
                    status,
                    self._clock() - started,
                )
                rate_limited = status == 429 or (
                    status not in passthrough and status >= 400 and _is_rate_limited_body(response)
                )
                if not rate_limited and (status < 400 or status in passthrough):
                    return response
                if not rate_limited and status < 500:
                    raise self._error_for(response, what)
                last_error = self._error_for(response, what, attempts=attempt, rate_limited=rate_limited)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                log.warning(
                    "%s: status=%d on attempt %d/%d%s",
                    what,
                    status,
                    attempt,
                    self.max_attempts,
                    f" (Retry-After {retry_after:g} s)" if retry_after is not None else "",
                )
            if attempt >= self.max_attempts:
                break
            delay = (
                retry_after
                if retry_after is not None
                else backoff_delay(attempt, self.backoff_base, self.backoff_cap, self._rng)
            )
            await self._sleep(delay)
        assert last_error is not None
        raise last_error

    @staticmethod
    def _maybe_accepted(err: errors.OCRError) -> errors.OCRError:
        """The same error, telling the user the submit may have created a job anyway (so: not retried)."""
        return type(err)(
            err.message,
            hint="The submit may have reached Upstage: check `list_requests` "
            "(GET /document-digitization/requests) before submitting again",
            status=err.status,
        )

    def _error_for(
        self, response: httpx.Response, what: str, *, attempts: int = 1, rate_limited: bool = False
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
        if status == 401:
            return errors.AuthenticationError(
                f"the Upstage API rejected the API key for {what} ({tag}){said}",
                hint=errors.NO_KEY_HINT,
                status=status,
            )
        if status in (402, 403):
            return errors.CreditError(
                f"the Upstage API refused {what}: no credit left or access forbidden ({tag}){said}",
                hint="Check the credit and plan of the account at https://console.upstage.ai, "
                "or use the offline engine with --engine local",
                status=status,
            )
        if status == 413:
            return errors.FileTooLargeError(
                f"the Upstage API says the document is too large for {what} ({tag}){said}",
                hint="Send at most 50 MB and 100 pages per request: pick pages, split the file, or use async",
                status=status,
            )
        if status == 415:
            return errors.UnsupportedFormatError(
                f"the Upstage API does not support this document format ({tag}){said}",
                hint="Convert it to PDF, PNG or JPEG and retry",
                status=status,
            )
        if status == 422:
            return errors.CorruptDocumentError(
                f"the Upstage API could not read the document ({tag}){said}",
                hint="Check that the file opens, re-save or convert it, and retry",
                status=status,
            )
        if status == 404:
            return errors.BadRequestError(
                f"the Upstage API found nothing for {what} ({tag}){said}",
                hint="Check the request id, and that UPSTAGE_BASE_URL points to https://api.upstage.ai/v1",
                status=status,
            )
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

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise errors.ServerError(
                f"the Upstage API sent an answer that is not JSON for {what} (status={response.status_code})",
                hint="Retry later; if it persists check UPSTAGE_BASE_URL",
                status=response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise errors.ServerError(
                f"the Upstage API sent an unexpected JSON {type(data).__name__} for {what} "
                f"(status={response.status_code})",
                hint="Retry later; if it persists check UPSTAGE_BASE_URL",
                status=response.status_code,
            )
        return data

    @staticmethod
    def _form(
        document: Path | bytes,
        filename: str,
        model: str,
        schema: str | None,
        fields: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
        if isinstance(document, bytes | bytearray | memoryview):
            content = bytes(document)
        else:
            try:
                content = Path(document).read_bytes()
            except OSError as exc:
                raise errors.FileMissingError(
                    f"cannot read {document}: {exc.strerror or exc}", hint="Check the path and permissions"
                ) from exc
        name = Path(filename).name or "document"
        data = {"model": model}
        if schema:
            data["schema"] = schema
        data.update(fields or {})
        return data, {"document": (name, content, guess_mime(name))}

    # -- public API -----------------------------------------------------------------------------------------

    async def ocr_sync(
        self,
        document: Path | bytes,
        *,
        filename: str,
        model: str = "ocr",
        schema: str | None = None,
        fields: Mapping[str, str] | None = None,
        what: str = "the OCR request",
    ) -> dict[str, Any]:
        """POST /document-digitization: OCR the document in one call; returns the raw JSON response.

        `fields` are further form fields (Document Parse sends its options there, see upstage/parse.py).
        """
        self._auth_headers()
        data, files = self._form(document, filename, model, schema, fields)
        response = await self._send("POST", SYNC_PATH, what=what, data=data, files=files)
        return self._json(response, what)

    async def submit_async(
        self,
        document: Path | bytes,
        *,
        filename: str,
        model: str = "ocr",
        schema: str | None = None,
        fields: Mapping[str, str] | None = None,
        what: str = "the async submit",
    ) -> str:
        """POST /document-digitization/async; returns the `request_id`."""
        self._auth_headers()
        data, files = self._form(document, filename, model, schema, fields)
        response = await self._send("POST", ASYNC_PATH, what=what, data=data, files=files, idempotent=False)
        body = self._json(response, what)
        request_id = body.get("request_id") or body.get("requestId") or body.get("id")
        if not request_id:
            raise errors.ServerError(
                f"the Upstage API accepted {what} but sent no request_id (status={response.status_code})",
                hint="Check `list_requests` for the new request before submitting again",
                status=response.status_code,
            )
        log.info("submitted async request %s", request_id)
        return str(request_id)

    async def get_request(self, request_id: str) -> dict[str, Any]:
        """GET /document-digitization/requests/{id}: the async request's status and batches."""
        path = f"{REQUESTS_PATH}/{quote(str(request_id), safe='')}"
        response = await self._send("GET", path, what=f"the status of request {request_id}")
        return self._json(response, f"the status of request {request_id}")

    async def list_requests(self) -> dict[str, Any]:
        """GET /document-digitization/requests: the account's recent async requests."""
        response = await self._send("GET", REQUESTS_PATH, what="the list of async requests")
        return self._json(response, "the list of async requests")

    async def download_batch(self, request_id: str, batch: dict[str, Any]) -> dict[str, Any]:
        """Download one completed batch's JSON from its pre-signed URL (no Authorization header).

        An expired URL (403) or an empty one makes it fetch the request status again for a fresh URL, at
        most MAX_DOWNLOAD_REFRESHES times.
        """
        batch_id = batch.get("id")
        what = f"batch {batch_id} of request {request_id}"
        url = str(batch.get("download_url") or "")
        problem = "no download URL"
        for refresh in range(MAX_DOWNLOAD_REFRESHES + 1):
            if url:
                response = await self._send(
                    "GET",
                    url,
                    what=f"the download of {what}",
                    auth=False,
                    limited=False,
                    passthrough=frozenset({403}),
                )
                if response.status_code != 403:
                    return self._json(response, f"the download of {what}")
                problem = "the download URL expired (status=403)"
            else:
                problem = "the API gave no download URL"
            if refresh >= MAX_DOWNLOAD_REFRESHES:
                break
            log.info("%s: %s; asking for a fresh URL", what, problem)
            if refresh:
                await self._sleep(backoff_delay(refresh, self.backoff_base, self.backoff_cap, self._rng))
            status = await self.get_request(request_id)
            fresh = next((b for b in status.get("batches") or [] if str(b.get("id")) == str(batch_id)), None)
            url = str((fresh or {}).get("download_url") or "")
        raise errors.ServerError(
            f"could not download {what}: {problem} after {MAX_DOWNLOAD_REFRESHES} refreshes",
            hint="Retry later; finished batches are kept and only the missing ones are fetched",
        )

    async def follow_async(
        self,
        request_id: str,
        *,
        done_batches: set[int],
        on_batch: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]],
        on_status: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Poll an async request until it is completed or failed, downloading each completed batch once.

        For every batch whose status is `completed` and whose id is not in `done_batches`, the batch JSON is
        downloaded and `await on_batch(batch_meta, batch_json)` is called; the id is added to `done_batches`
        only after the callback returns, so a crash mid-store re-downloads that batch on resume. Failed
        batches are left in the returned status for the caller to handle. The poll interval grows from
        `poll_interval` to `max_poll_interval` (x1.5 per idle poll) and resets when a batch arrives.

        `deadline` is an absolute time on the client's clock (`time.monotonic()` by default). When it
        passes first, the latest, unfinished, status is returned: check `status["status"]`.
        """
        poll_interval = POLL_SECONDS if poll_interval is None else poll_interval
        max_poll_interval = MAX_POLL_SECONDS if max_poll_interval is None else max_poll_interval
        interval = max(poll_interval, 0.0)
        while True:
            status = await self.get_request(request_id)
            if on_status is not None:
                await on_status(status)
            got_new = False
            batches = sorted(status.get("batches") or [], key=lambda b: int(b.get("id", 0)))
            for batch in batches:
                bid = int(batch.get("id", 0))
                if batch.get("status") != "completed" or bid in done_batches:
                    continue
                payload = await self.download_batch(request_id, batch)
                await on_batch(batch, payload)
                done_batches.add(bid)
                got_new = True
            state = str(status.get("status") or "")
            if state in TERMINAL_STATUSES:
                failed = [b.get("id") for b in batches if b.get("status") == "failed"]
                log.info("request %s %s; failed batches: %s", request_id, state, failed or "none")
                return status
            now = self._clock()
            if deadline is not None and now >= deadline:
                log.info("request %s still %s at the deadline", request_id, state or "pending")
                return status
            interval = max(poll_interval, 0.0) if got_new else min(interval * 1.5, max_poll_interval)
            wait = min(interval, max_poll_interval)
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.0))
            await self._sleep(wait)


# ----------------------------------------------------------------------------------------------------------
# Turning batches into pages


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


def pdf_subset(path: Path, pages: list[int]) -> bytes:
    """A new PDF holding only `pages` (1-based, in the given order) of the PDF at `path`."""
    import pikepdf

    if not pages:
        raise errors.PageRangeError("no pages selected", hint="Give at least one page number, e.g. 1-3")
    try:
        with pikepdf.open(path) as src:
            total = len(src.pages)
            bad = [p for p in pages if p < 1 or p > total]
            if bad:
                raise errors.PageRangeError(
                    f"page {bad[0]} is outside the document ({total} pages)",
                    hint=f"Choose pages between 1 and {total}",
                )
            out = pikepdf.new()
            for number in pages:
                out.pages.append(src.pages[number - 1])
            buf = io.BytesIO()
            out.save(buf)
            return buf.getvalue()
    except pikepdf.PasswordError as exc:
        raise errors.CorruptDocumentError(
            f"{Path(path).name} is password-protected", hint="Remove the password and retry"
        ) from exc
    except pikepdf.PdfError as exc:
        raise errors.CorruptDocumentError(
            f"{Path(path).name} is not a readable PDF ({_one_line(str(exc), 120)})",
            hint="Check that the file opens, re-save it, and retry",
        ) from exc
    except OSError as exc:
        raise errors.FileMissingError(
            f"cannot read {path}: {exc.strerror or exc}", hint="Check the path and permissions"
        ) from exc
