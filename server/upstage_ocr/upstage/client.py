"""The async client for Upstage's Document Digitization API (OCR): sync, async submit/poll/download, retries.

One `httpx.AsyncClient` per `UpstageClient`. Every call to the API goes through `_send`, the only place that
retries (429, 5xx, connection errors, timeouts; full-jitter exponential backoff; `Retry-After` honoured) and
the only place that turns HTTP failures into the `errors` tree (with `responses.py`). A client-side rate
limiter (`pacing.py`), shared by every concurrent caller of one instance, spaces API requests
(`settings.rate_limit` per second); batch downloads from pre-signed URLs are not limited and never carry the
Authorization header. What is uploaded is made in `uploads.py`; batches become pages in `results.py`.

The API key is sent in a header only; no message, log line or repr built here contains it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from .. import __version__, errors
from ..settings import Settings
from .pacing import ClockFn, RateLimiter, SleepFn, backoff_delay, parse_retry_after
from .responses import error_for, is_rate_limited_body, safe_url, transport_failure
from .uploads import guess_mime

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
MAX_DOWNLOAD_REFRESHES = 3
"""How many times a batch download asks the API for a fresh URL (expired 403, or an empty URL)."""
CONNECT_TIMEOUT_CAP = 30.0
"""Seconds: the connect timeout is min(settings.timeout, this)."""

# Endpoints, relative to settings.base_url.
SYNC_PATH = "document-digitization"
ASYNC_PATH = "document-digitization/async"
REQUESTS_PATH = "document-digitization/requests"

TERMINAL_STATUSES = frozenset({"completed", "failed"})


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
            except httpx.TransportError as exc:  # timeouts included
                last_error = transport_failure(exc, what, idempotent, self.settings.timeout, self._base_url)
                log.warning("%s: %s on attempt %d/%d", what, _failure_name(exc), attempt, self.max_attempts)
            else:
                log.debug(
                    "%s %s -> %d in %.2f s",
                    method,
                    safe_url(response.request.url),
                    response.status_code,
                    self._clock() - started,
                )
                refusal = self._refusal(response, what, attempt, passthrough)
                if refusal is None:
                    return response
                last_error, retry_after = refusal
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

    def _refusal(
        self, response: httpx.Response, what: str, attempt: int, passthrough: frozenset[int]
    ) -> tuple[errors.OCRError, float | None] | None:
        """None for an answer to return; else (the error, the server's Retry-After) for one worth retrying.
        Raises at once for a refusal a retry would not change (4xx other than rate limiting)."""
        status = response.status_code
        rate_limited = status == 429 or (
            status not in passthrough and status >= 400 and is_rate_limited_body(response)
        )
        if not rate_limited and (status < 400 or status in passthrough):
            return None
        if not rate_limited and status < 500:
            raise error_for(response, what)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        log.warning(
            "%s: status=%d on attempt %d/%d%s",
            what,
            status,
            attempt,
            self.max_attempts,
            f" (Retry-After {retry_after:g} s)" if retry_after is not None else "",
        )
        return error_for(response, what, attempts=attempt, rate_limited=rate_limited), retry_after

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


def _failure_name(exc: BaseException) -> str:
    return "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
