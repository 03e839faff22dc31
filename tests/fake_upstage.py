"""A fake of Upstage's Document Digitization API (OCR), for tests, fault injection and benchmarks.

It follows the contract in docs/upstage-api.md §7 and can be used two ways:

    fake = FakeUpstage()                                   # api_key = fake_upstage.DEFAULT_KEY
    httpx.AsyncClient(transport=fake.transport())          # in-process (httpx.MockTransport)
    with fake.serve() as base_url:                         # a real HTTP server on 127.0.0.1 (own thread)
        ...                                                # base_url = "http://127.0.0.1:<port>/v1"

Endpoints (any prefix before `/document-digitization` is accepted, so `/v1/...` works):

    POST /document-digitization                   sync OCR (multipart: document, model, schema), or Document
                                                  Parse with model=document-parse (tests/fake_parse.py)
    POST /document-digitization/async             -> {"request_id": uuid}
    GET  /document-digitization/requests/{id}     status + 10-page batches with pre-signed download URLs
    GET  /document-digitization/requests          {"requests": [...]}
    GET  /_download/{token}                       a batch's JSON; no Authorization allowed; 403 once expired

Results: uploads whose bytes equal a golden fixture input (check_box.png, dpi_150.jpg, multi_page.pdf,
reciepts.jpg; matched by sha256) get that fixture's real JSON. Anything else gets a deterministic synthetic
OCR response, one page per image (frames of a TIFF) or per PDF page (pypdfium2; pages sized at 150 DPI),
with the API's envelope rules: apiVersion "1.1", modelVersion "ocr-<yymmdd>", 0-based page ids, global word
ids, lines joined by " \\n", page confidence = mean of its words, document confidence = min of pages,
numBilledPages. `schema=clova|google` returns the CLOVA V2 / Google Vision shapes (§5), roughly.

Configuration (constructor keywords, all also plain attributes you may change between calls):

    api_key             the only accepted bearer key (else 401)
    model_version       what model=ocr resolves to (a pinned model=ocr-YYMMDD is echoed)
    parse_model_version what model=document-parse resolves to
    parse_sync_over_limit  Document Parse past sync_page_limit: "truncate" (the DP docs: the first 100 pages
                        are processed) | "reject" (413)
    sync_page_limit     pages allowed on the sync endpoint (100); `sync_over_limit` "reject" (413) | "truncate"
    async_page_limit    pages allowed on /async (2000)
    max_bytes           upload size limit (50 MiB, else 413)
    latency             seconds added to every call (async sleep in-process, thread sleep when served)
    rps_limit           accepted API calls per sliding second (downloads excluded); past it answer
                        `rate_limit_status` (429) with the `too_many_requests` body, and `Retry-After:
                        retry_after` when retry_after is not None. Measured on real time (`rps_clock`).
    batch_size          pages per async batch (10)
    seconds_per_batch   batches complete one after another, this many seconds each (0 = at once)
    url_ttl             seconds a download URL stays valid (then 403, S3-style XML body)
    failed_batches      batch ids that end `failed` (with failure_message) in every async request
    fail_request        the whole async request ends `failed` once its batches are done
    empty_url_polls     the first N status polls that show a completed batch give it an empty download_url
    relative_batch_ids  batch downloads number pages from 0 (batch-relative) instead of absolutely
    clock               time source for batch progress and URL expiry (use FakeClock to drive it by hand)

Scripted failures: `fake.fail_next(n, status, endpoint=..., retry_after=...)`; status is an HTTP code or
"reset" (connection reset), "refuse" (connect error; in served mode same as reset) or "timeout" (in-process:
httpx.ReadTimeout; served: hangs `hang_seconds`, then resets).

Counters: sync_calls, submits, status_polls, list_calls, downloads, rate_limited (429s sent),
expired_downloads, injected; `calls` is the log of every request (parsed form fields, file name, MIME type,
headers) for asserting the request shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

import fake_parse

DEFAULT_KEY = "up_FAKEkey0123456789abcdefXYZ"
DEFAULT_MODEL_VERSION = "ocr-260930"
MIB = 1024 * 1024
PDF_DPI = 150
GOLDEN_INPUTS = ("check_box.png", "dpi_150.jpg", "multi_page.pdf", "reciepts.jpg")
ENDPOINTS = ("sync", "submit", "status", "list", "download")

_MODEL_RE = re.compile(r"^ocr(-\d{6}|-\d+\.\d+\.\d+)?$")
_ROOT = Path(__file__).resolve().parents[1]


def default_fixtures_dir() -> Path | None:
    path = Path(
        os.environ.get("UPSTAGE_OCR_FIXTURES", _ROOT.parent / "shared" / "fixtures" / "upstage-cookbook")
    )
    return path if path.is_dir() else None


class FakeClock:
    """A hand-driven clock: `clock()` reads it, `advance(s)` moves it, `await clock.sleep(s)` advances it.

    Pass it as `FakeUpstage(clock=...)` and as the client's `clock=`/`sleep=` to run polling and URL expiry
    without waiting. (Do not combine it with rps limits: those use real time.)
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await anyio.sleep(0)


@dataclass
class Reply:
    """What the fake answers: an HTTP response, or a transport fault (`fault` = reset | refuse | timeout)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(
            status,
            json.dumps(data, ensure_ascii=False).encode(),
            {"content-type": "application/json", **(headers or {})},
        )


@dataclass
class FilePart:
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Call:
    """One request the fake received, for request-shape assertions."""

    method: str
    endpoint: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)
    status: int | str | None = None


@dataclass
class _Failure:
    status: int | str
    endpoint: str | None
    retry_after: str | None
    body: Any


@dataclass
class _Job:
    id: str
    model: str
    schema: str | None
    model_version: str
    pages: list[dict[str, Any]]
    batches: list[tuple[int, int]]
    created: float
    failed_batches: frozenset[int]
    fail_request: bool
    url_polls: dict[int, int] = field(default_factory=dict)
    parse: fake_parse.ParseRequest | None = None


# --------------------------------------------------------------------------------------------------------
# Building OCR results


def _rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _word(wid: int, text: str, conf: float, box: tuple[int, int, int, int]) -> dict[str, Any]:
    left, top, right, bottom = box
    verts = [
        {"x": left, "y": top},
        {"x": right, "y": top},
        {"x": right, "y": bottom},
        {"x": left, "y": bottom},
    ]
    return {"boundingBox": {"vertices": verts}, "confidence": conf, "id": wid, "text": text}


def synth_page(digest: str, index: int, width: int, height: int) -> dict[str, Any]:
    """A deterministic page (id = index, word ids from 0) for the document with sha256 `digest`."""
    lines = [
        ["Fake", "OCR", "page", str(index + 1)],
        ["document", digest[:8]],
        ["Total", f"{(int(digest[8:12], 16) % 1000) / 10:.2f}", "Pizza"],
    ]
    words: list[dict[str, Any]] = []
    char_w = max(width // 60, 4)
    line_h = max(height // 30, 8)
    seed = int(digest[16:24], 16)
    for li, line in enumerate(lines):
        x = max(width // 20, 1)
        top = max(height // 20, 1) + li * line_h * 2
        for text in line:
            right = min(x + char_w * len(text), width)
            n = len(words)
            conf = round(0.9 + ((seed >> (n % 24)) + index * 7 + n * 13) % 100 / 1000, 4)
            words.append(_word(n, text, conf, (x, top, right, min(top + line_h, height))))
            x = right + char_w
    mean = round(sum(w["confidence"] for w in words) / len(words), 4)
    text = " \n".join(" ".join(line) for line in lines)
    return {"confidence": mean, "height": height, "id": index, "text": text, "width": width, "words": words}


def envelope(
    pages: list[dict[str, Any]], model_version: str, *, first_page_number: int = 1
) -> dict[str, Any]:
    """The sync OCR response for `pages` (their `id`s are kept; word ids renumbered from 0 in order)."""
    out_pages = []
    wid = 0
    for page in pages:
        words = []
        for w in page.get("words", []):
            words.append({**w, "id": wid})
            wid += 1
        out_pages.append({**page, "words": words})
    confs = [p["confidence"] for p in out_pages if p.get("words")]
    return {
        "apiVersion": "1.1",
        "confidence": min(confs) if confs else 0.0,
        "metadata": {
            "pages": [
                {"height": p["height"], "page": first_page_number + i, "width": p["width"]}
                for i, p in enumerate(out_pages)
            ]
        },
        "mimeType": "multipart/form-data",
        "modelVersion": model_version,
        "numBilledPages": len(out_pages),
        "pages": out_pages,
        "stored": False,
        "text": "".join(p["text"] for p in out_pages),
    }


def _lines_of(page: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Group a page's words into its text lines (words may contain spaces)."""
    words = list(page.get("words", []))
    groups: list[list[dict[str, Any]]] = []
    i = 0
    for line in str(page.get("text", "")).split(" \n"):
        group: list[dict[str, Any]] = []
        while i < len(words) and " ".join(w["text"] for w in [*group, words[i]]) in line:
            group.append(words[i])
            i += 1
            if " ".join(w["text"] for w in group) == line:
                break
        if group:
            groups.append(group)
    if i < len(words):
        groups.append(words[i:])
    return groups


def to_clova(result: dict[str, Any]) -> dict[str, Any]:
    """The result in NAVER CLOVA General OCR V2 shape (one `images[]` entry per page)."""
    images = []
    for page in result["pages"]:
        fields = []
        for line in _lines_of(page):
            for j, w in enumerate(line):
                verts = [{"x": float(v["x"]), "y": float(v["y"])} for v in w["boundingBox"]["vertices"]]
                fields.append(
                    {
                        "valueType": "ALL",
                        "boundingPoly": {"vertices": verts},
                        "inferText": w["text"],
                        "inferConfidence": w["confidence"],
                        "type": "NORMAL",
                        "lineBreak": j == len(line) - 1,
                    }
                )
        images.append(
            {
                "uid": hashlib.md5(f"{page['id']}{page['text']}".encode()).hexdigest(),
                "name": f"page_{page['id'] + 1}",
                "inferResult": "SUCCESS",
                "message": "SUCCESS",
                "validationResult": {"result": "NO_REQUESTED"},
                "convertedImageInfo": {
                    "width": page["width"],
                    "height": page["height"],
                    "pageIndex": page["id"],
                    "longImage": False,
                },
                "fields": fields,
            }
        )
    return {
        "version": "V2",
        "requestId": str(uuid.uuid4()),
        "timestamp": int(time.time() * 1000),
        "images": images,
    }


def _hull(vertices: list[dict[str, Any]]) -> list[dict[str, int]]:
    if not vertices:
        return []
    xs = [v["x"] for v in vertices]
    ys = [v["y"] for v in vertices]
    return [
        {"x": min(xs), "y": min(ys)},
        {"x": max(xs), "y": min(ys)},
        {"x": max(xs), "y": max(ys)},
        {"x": min(xs), "y": max(ys)},
    ]


def to_google(result: dict[str, Any]) -> dict[str, Any]:
    """The result as Google Vision `{"responses": [AnnotateImageResponse per page]}`."""
    responses = []
    for page in result["pages"]:
        words = page.get("words", [])
        all_verts = [v for w in words for v in w["boundingBox"]["vertices"]]
        text = page["text"].replace(" \n", "\n")
        annotations = [{"locale": "en", "description": text, "boundingPoly": {"vertices": _hull(all_verts)}}]
        annotations += [{"description": w["text"], "boundingPoly": w["boundingBox"]} for w in words]
        gwords = [
            {
                "confidence": w["confidence"],
                "boundingBox": w["boundingBox"],
                "symbols": [{"text": c} for c in w["text"]],
            }
            for w in words
        ]
        block = {
            "blockType": "TEXT",
            "confidence": page["confidence"],
            "boundingBox": {"vertices": _hull(all_verts)},
            "paragraphs": [{"words": gwords}],
        }
        gpage = {
            "width": page["width"],
            "height": page["height"],
            "confidence": page["confidence"],
            "blocks": [block],
        }
        responses.append(
            {"textAnnotations": annotations, "fullTextAnnotation": {"pages": [gpage], "text": text}}
        )
    return {"responses": responses}


def apply_schema(result: dict[str, Any], schema: str | None) -> dict[str, Any]:
    if schema == "clova":
        return to_clova(result)
    if schema == "google":
        return to_google(result)
    return result


# --------------------------------------------------------------------------------------------------------
# Documents


class _BadDocument(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _kind(data: bytes) -> str | None:
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data.startswith(b"BM"):
        return "bmp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"hevc"):
        return "heic"
    if data.startswith(b"PK\x03\x04"):
        return "office"  # docx / pptx / xlsx / hwpx
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "hwp"
    return None


def page_sizes(data: bytes) -> list[tuple[int, int]]:
    """Pixel size of every page: PDF pages at 150 DPI (rounded up), image frames as they are."""
    kind = _kind(data)
    if kind is None:
        raise _BadDocument(415, "unsupported document format", "unsupported_document_format")
    if kind == "pdf":
        import pypdfium2

        try:
            pdf = pypdfium2.PdfDocument(data)
        except Exception as exc:  # pypdfium2 raises its own PdfiumError
            raise _BadDocument(422, f"the document is corrupted: {exc}", "corrupted_document") from exc
        try:
            sizes = []
            for i in range(len(pdf)):
                w, h = pdf[i].get_size()
                sizes.append((math.ceil(w * PDF_DPI / 72 - 1e-6), math.ceil(h * PDF_DPI / 72 - 1e-6)))
            return sizes
        finally:
            pdf.close()
    if kind in ("office", "hwp"):
        return [(1240, 1754)]
    from PIL import Image

    if kind == "heic":
        with contextlib.suppress(ImportError):
            import pillow_heif

            pillow_heif.register_heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as img:
            return [img.size] * max(int(getattr(img, "n_frames", 1) or 1), 1)
    except Exception as exc:
        if kind == "heic":
            return [(1000, 1000)]
        raise _BadDocument(422, f"the document is corrupted: {exc}", "corrupted_document") from exc


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, FilePart]]:
    """(text fields, file parts) of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if "multipart/form-data" not in (content_type or "") or not match:
        return {}, {}
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, str] = {}
    files: dict[str, FilePart] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, content = chunk.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_m = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if not name_m:
            continue
        file_m = re.search(r'filename="([^"]*)"', disposition)
        if file_m is not None:
            files[name_m.group(1)] = FilePart(file_m.group(1), headers.get("content-type"), content)
        else:
            fields[name_m.group(1)] = content.decode("utf-8", "replace")
    return fields, files


def _error(status: int, message: str, code: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply.json(status, {"error": {"message": message, "type": code, "code": code}}, headers)


# --------------------------------------------------------------------------------------------------------
# The fake


class FakeUpstage:
    """A configurable, thread-safe fake of the Upstage Document Digitization API. See the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        fixtures_dir: Path | None = None,
        model_version: str = DEFAULT_MODEL_VERSION,
        parse_model_version: str = fake_parse.DEFAULT_VERSION,
        parse_sync_over_limit: str = "truncate",
        sync_page_limit: int = 100,
        sync_over_limit: str = "reject",
        async_page_limit: int = 2000,
        max_bytes: int = 50 * MIB,
        latency: float = 0.0,
        rps_limit: float | None = None,
        retry_after: float | str | None = None,
        rate_limit_status: int = 429,
        batch_size: int = 10,
        seconds_per_batch: float = 0.0,
        url_ttl: float = 900.0,
        failed_batches: set[int] | frozenset[int] = frozenset(),
        fail_request: bool = False,
        empty_url_polls: int = 0,
        relative_batch_ids: bool = False,
        clock: Callable[[], float] = time.monotonic,
        rps_clock: Callable[[], float] = time.monotonic,
        hang_seconds: float = 5.0,
    ) -> None:
        self.api_key = api_key
        self.model_version = model_version
        self.parse_model_version = parse_model_version
        self.parse_sync_over_limit = parse_sync_over_limit
        self.sync_page_limit = sync_page_limit
        self.sync_over_limit = sync_over_limit
        self.async_page_limit = async_page_limit
        self.max_bytes = max_bytes
        self.latency = latency
        self.rps_limit = rps_limit
        self.retry_after = retry_after
        self.rate_limit_status = rate_limit_status
        self.batch_size = batch_size
        self.seconds_per_batch = seconds_per_batch
        self.url_ttl = url_ttl
        self.failed_batches = frozenset(failed_batches)
        self.fail_request = fail_request
        self.empty_url_polls = empty_url_polls
        self.relative_batch_ids = relative_batch_ids
        self.clock = clock
        self.rps_clock = rps_clock
        self.hang_seconds = hang_seconds

        self.calls: list[Call] = []
        self.sync_calls = self.submits = self.status_polls = self.list_calls = self.downloads = 0
        self.rate_limited = self.expired_downloads = self.injected = 0

        self._lock = threading.RLock()
        self._failures: deque[_Failure] = deque()
        self._window: deque[float] = deque()
        self._jobs: dict[str, _Job] = {}
        self._tokens: dict[str, tuple[str, int, float]] = {}
        self._epoch = datetime.now(timezone.utc)
        self._clock0 = clock()
        self._golden: dict[str, Path] = {}
        fixtures = fixtures_dir if fixtures_dir is not None else default_fixtures_dir()
        if fixtures is not None:
            for name in GOLDEN_INPUTS:
                src, res = fixtures / name, (fixtures / name).with_suffix(".json")
                if src.is_file() and res.is_file():
                    self._golden[hashlib.sha256(src.read_bytes()).hexdigest()] = res

    # -- scripting and inspection -------------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int | str = 503,
        *,
        endpoint: str | None = None,
        retry_after: float | str | None = None,
        body: Any = None,
    ) -> None:
        """Make the next `n` calls (to `endpoint`, or any) fail with `status` or a fault (reset|refuse|timeout).

        `body`: a dict (sent as JSON), a str (sent as text/HTML) or None (the standard error body).
        """
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")
        with self._lock:
            for _ in range(n):
                ra = None if retry_after is None else str(retry_after)
                self._failures.append(_Failure(status, endpoint, ra, body))

    @property
    def api_calls(self) -> int:
        """Calls to the API proper (everything but pre-signed downloads)."""
        return self.sync_calls + self.submits + self.status_polls + self.list_calls

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    # -- transports ---------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for `httpx.AsyncClient` (latency via anyio.sleep)."""
        return httpx.MockTransport(self.handle_async)

    def sync_transport(self) -> httpx.MockTransport:
        """An in-process transport for a sync `httpx.Client` (latency via time.sleep)."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            time.sleep(self.latency)
        return self._to_httpx(request, self._dispatch_request(request))

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            await anyio.sleep(self.latency)
        return self._to_httpx(request, self._dispatch_request(request))

    def _dispatch_request(self, request: httpx.Request) -> Reply:
        body = request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        return self.dispatch(request.method, str(request.url), headers, body)

    @staticmethod
    def _to_httpx(request: httpx.Request, reply: Reply) -> httpx.Response:
        if reply.fault == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if reply.fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if reply.fault:
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Run the fake as a real HTTP server in a background thread; yields its base URL (ending in /v1)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if fake.latency:
                    time.sleep(fake.latency)
                headers = {k.lower(): v for k, v in self.headers.items()}
                netloc = self.headers.get("host") or host
                reply = fake.dispatch(self.command, f"http://{netloc}{self.path}", headers, body)
                if reply.fault:
                    if reply.fault == "timeout":
                        time.sleep(fake.hang_seconds)
                    self._reset()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def _reset(self) -> None:
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-upstage", daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    # -- the API ------------------------------------------------------------------------------------------

    def dispatch(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request (framework-neutral: both transports call this)."""
        parts = urlsplit(url)
        path = parts.path
        origin = f"{parts.scheme}://{parts.netloc}"
        endpoint, arg = self._route(method, path)
        call = Call(method, endpoint or "unknown", path, dict(headers))
        if endpoint in ("sync", "submit"):
            call.fields, call.files = parse_multipart(headers.get("content-type", ""), body)
        with self._lock:
            self.calls.append(call)
            reply = self._answer(endpoint, arg, call, origin)
            call.status = reply.fault or reply.status
            return reply

    @staticmethod
    def _route(method: str, path: str) -> tuple[str | None, str | None]:
        m = re.match(r"^/_download/([^/]+)$", path)
        if m:
            return ("download", m.group(1)) if method == "GET" else (None, None)
        m = re.search(r"/document-digitization(/async|/requests(?:/([^/]+))?)?/?$", path)
        if not m:
            return None, None
        rest = m.group(1) or ""
        if rest == "" and method == "POST":
            return "sync", None
        if rest == "/async" and method == "POST":
            return "submit", None
        if rest.startswith("/requests") and method == "GET":
            rid = m.group(2)
            return ("status", rid) if rid else ("list", None)
        return None, None

    def _take_failure(self, endpoint: str) -> _Failure | None:
        for failure in self._failures:
            if failure.endpoint in (None, endpoint):
                self._failures.remove(failure)
                return failure
        return None

    def _answer(self, endpoint: str | None, arg: str | None, call: Call, origin: str) -> Reply:
        if endpoint is None:
            return _error(404, f"no route for {call.method} {call.path}", "not_found")
        counter = {
            "sync": "sync_calls",
            "submit": "submits",
            "status": "status_polls",
            "list": "list_calls",
            "download": "downloads",
        }[endpoint]
        setattr(self, counter, getattr(self, counter) + 1)

        failure = self._take_failure(endpoint)
        if failure is not None:
            self.injected += 1
            if isinstance(failure.status, str):
                return Reply(fault=failure.status)
            extra = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            if failure.status == 429:
                self.rate_limited += 1
            if isinstance(failure.body, str):
                ctype = "text/html" if "<" in failure.body else "text/plain"
                return Reply(failure.status, failure.body.encode(), {"content-type": ctype, **extra})
            if failure.body is not None:
                return Reply.json(failure.status, failure.body, extra)
            code = "too_many_requests" if failure.status == 429 else f"http_{failure.status}"
            return _error(failure.status, f"injected failure {failure.status}", code, extra)

        if endpoint == "download":
            return self._download(str(arg), call)

        if call.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid or missing API key", "invalid_api_key")

        if self.rps_limit is not None:
            now = self.rps_clock()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rps_limit:
                self.rate_limited += 1
                extra = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return _error(
                    self.rate_limit_status,
                    "Too many requests. Please retry after a while.",
                    "too_many_requests",
                    extra,
                )
            self._window.append(now)

        if endpoint == "sync":
            return self._sync(call)
        if endpoint == "submit":
            return self._submit(call)
        if endpoint == "status":
            return self._status(str(arg), origin)
        return self._list()

    def _read_document(
        self, call: Call, page_limit: int, over: str
    ) -> tuple[str, str | None, str, list[dict[str, Any]], bool]:
        """(model, schema, resolved model version, page dicts, golden) or raises _BadDocument."""
        doc = call.files.get("document")
        if doc is None:
            raise _BadDocument(400, "no document in the request", "no_document")
        model = call.fields.get("model", "")
        parse = fake_parse.is_parse_model(model)
        if not _MODEL_RE.match(model) and not parse:
            raise _BadDocument(400, f"invalid model name: {model!r}", "invalid_model_name")
        schema = call.fields.get("schema") or None
        if schema not in (None, "clova", "google"):
            raise _BadDocument(400, f"invalid schema: {schema!r}", "invalid_schema")
        if len(doc.data) > self.max_bytes:
            raise _BadDocument(
                413, "uploaded document is too large. max allowed size is 50MB", "file_too_large"
            )
        if not doc.data:
            raise _BadDocument(400, "the document is empty", "empty_document")
        version = self.model_version if model == "ocr" else model
        if model == "document-parse":
            version = self.parse_model_version
        golden = None if parse else self._golden.get(doc.sha256)
        if golden is not None:
            data = json.loads(golden.read_text())
            return model, schema, str(data.get("modelVersion", version)), list(data["pages"]), True
        sizes = page_sizes(doc.data)
        if len(sizes) > page_limit:
            if over != "truncate":
                raise _BadDocument(
                    413,
                    f"the document has {len(sizes)} pages; at most {page_limit} are allowed",
                    "too_many_pages",
                )
            sizes = sizes[:page_limit]
        pages = [synth_page(doc.sha256, i, w, h) for i, (w, h) in enumerate(sizes)]
        return model, schema, version, pages, False

    @staticmethod
    def _parse_request(call: Call) -> fake_parse.ParseRequest | None:
        """The Document Parse options of a `model=document-parse` call (None for OCR), or raises _BadDocument."""
        if not fake_parse.is_parse_model(call.fields.get("model", "")):
            return None
        try:
            return fake_parse.ParseRequest.from_fields(call.fields, call.files["document"].sha256)
        except fake_parse.BadField as bad:
            raise _BadDocument(400, bad.message, bad.code) from bad

    def _sync(self, call: Call) -> Reply:
        parse = fake_parse.is_parse_model(call.fields.get("model", ""))
        over = self.parse_sync_over_limit if parse else self.sync_over_limit
        try:
            _model, schema, version, pages, golden = self._read_document(call, self.sync_page_limit, over)
            request = self._parse_request(call)
        except _BadDocument as bad:
            return _error(bad.status, bad.message, bad.code)
        if request is not None:
            return Reply.json(200, fake_parse.envelope(request, range(1, len(pages) + 1), version))
        if golden:
            doc = call.files["document"]
            result = json.loads(self._golden[doc.sha256].read_text())
        else:
            result = envelope(pages, version)
        return Reply.json(200, apply_schema(result, schema))

    def _submit(self, call: Call) -> Reply:
        try:
            model, schema, version, pages, _golden = self._read_document(
                call, self.async_page_limit, "reject"
            )
            request = self._parse_request(call)
        except _BadDocument as bad:
            return _error(bad.status, bad.message, bad.code)
        size = max(self.batch_size, 1)
        batches = [(s + 1, min(s + size, len(pages))) for s in range(0, len(pages), size)]
        job = _Job(
            id=str(uuid.uuid4()),
            model=model,
            schema=schema,
            model_version=version,
            pages=pages,
            batches=batches,
            created=self.clock(),
            failed_batches=self.failed_batches,
            fail_request=self.fail_request,
            parse=request,
        )
        self._jobs[job.id] = job
        return Reply.json(200, {"request_id": job.id})

    def _timestamp(self, at: float) -> str:
        return _rfc3339(self._epoch + timedelta(seconds=at - self._clock0))

    def _job_state(self, job: _Job) -> tuple[str, list[str], str | None]:
        elapsed = self.clock() - job.created
        states = []
        for i in range(len(job.batches)):
            done_at = (i + 1) * self.seconds_per_batch
            if elapsed >= done_at:
                states.append("failed" if i in job.failed_batches else "completed")
            elif elapsed >= i * self.seconds_per_batch:
                states.append("started")
            else:
                states.append("scheduled")
        if all(s in ("completed", "failed") for s in states):
            top = (
                "failed"
                if job.fail_request or (states and all(s == "failed" for s in states))
                else "completed"
            )
            completed_at = self._timestamp(job.created + len(states) * self.seconds_per_batch)
            return top, states, completed_at
        top = "submitted" if all(s == "scheduled" for s in states) else "started"
        return top, states, None

    def _status(self, request_id: str, origin: str) -> Reply:
        job = self._jobs.get(request_id)
        if job is None:
            return _error(404, f"request {request_id} not found", "not_found")
        top, states, completed_at = self._job_state(job)
        batches = []
        completed_pages = 0
        for i, ((start, end), state) in enumerate(zip(job.batches, states, strict=True)):
            url = ""
            if state == "completed":
                completed_pages += end - start + 1
                polls = job.url_polls.get(i, 0)
                job.url_polls[i] = polls + 1
                if polls >= self.empty_url_polls:
                    token = secrets.token_urlsafe(16)
                    self._tokens[token] = (job.id, i, self.clock() + self.url_ttl)
                    url = f"{origin}/_download/{token}"
            updated = job.created + min((i + 1), len(job.batches)) * self.seconds_per_batch
            batches.append(
                {
                    "id": i,
                    "model": job.model_version,
                    "status": state,
                    "failure_message": "internal server error while processing the batch"
                    if state == "failed"
                    else "",
                    "download_url": url,
                    "start_page": start,
                    "end_page": end,
                    "requested_at": self._timestamp(job.created),
                    "updated_at": self._timestamp(
                        updated if state in ("completed", "failed") else job.created
                    ),
                }
            )
        body = {
            "id": job.id,
            "status": top,
            "model": job.model,
            "failure_message": "the request failed" if top == "failed" else "",
            "total_pages": len(job.pages),
            "completed_pages": completed_pages,
            "batches": batches,
            "requested_at": self._timestamp(job.created),
            "completed_at": completed_at,
        }
        return Reply.json(200, body)

    def _list(self) -> Reply:
        items = []
        for job in reversed(list(self._jobs.values())):
            top, _states, completed_at = self._job_state(job)
            items.append(
                {
                    "id": job.id,
                    "status": top,
                    "model": job.model,
                    "requested_at": self._timestamp(job.created),
                    "completed_at": completed_at,
                }
            )
        return Reply.json(200, {"requests": items})

    def _download(self, token: str, call: Call) -> Reply:
        if "authorization" in call.headers:
            # What S3 answers when a pre-signed URL is sent with an Authorization header as well.
            return Reply(
                400,
                b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                b"</Message></Error>",
                {"content-type": "application/xml"},
            )
        entry = self._tokens.get(token)
        if entry is None or self.clock() >= entry[2]:
            if entry is not None:
                self.expired_downloads += 1
            return Reply(
                403,
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                b"<Message>Request has expired</Message></Error>",
                {"content-type": "application/xml"},
            )
        job_id, index, _expires = entry
        job = self._jobs[job_id]
        start, end = job.batches[index]
        if job.parse is not None:
            offset = start - 1 if self.relative_batch_ids else 0
            body = fake_parse.envelope(
                job.parse, range(start, end + 1), job.model_version, page_offset=offset
            )
            return Reply.json(200, body)
        pages = []
        for offset, page in enumerate(job.pages[start - 1 : end]):
            pid = offset if self.relative_batch_ids else start - 1 + offset
            pages.append({**page, "id": pid})
        first = 1 if self.relative_batch_ids else start
        result = envelope(pages, job.model_version, first_page_number=first)
        return Reply.json(200, apply_schema(result, job.schema))
