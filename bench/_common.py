"""Shared helpers for the benchmarks: paths, a fake Upstage API with per-endpoint latency, documents, child
processes with CPU and peak-memory accounting, and a Markdown table printer.

Every benchmark prints ratios measured side by side in one run, so a noisy machine moves both sides alike.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
SERVER_DIR = ROOT / "server"
BIN_DIR = Path(sys.executable).parent

for _p in (str(SERVER_DIR), str(TESTS_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from fake_upstage import DEFAULT_KEY, FakeUpstage  # noqa: E402  (tests/ is on sys.path only from here)

# -- the fake Upstage API with realistic latency ---------------------------------------------------------------

LATENCY = {
    "sync": 2.0,  # a short page through POST /document-digitization
    "submit": 1.0,  # POST /document-digitization/async (upload + accept)
    "status": 0.2,  # GET /requests/{id}
    "list": 0.2,
    "download": 0.3,  # a 10-page batch JSON from the pre-signed URL
    "rejected": 0.05,  # a 429 answer
}
SECONDS_PER_BATCH = 2.0
"""Async batches of 10 pages complete one after another, this many seconds each (before --scale)."""
RATE_LIMIT = 3.0
"""Requests per second the fake accepts (sliding one-second window); past it, 429."""


class LatencyFake(FakeUpstage):
    """`FakeUpstage` whose answers take a per-endpoint time (`LATENCY` x scale).

    The request is answered (and counted against the rate limit) when it arrives, as a real API counts
    arrivals; the reply then waits out the latency. Use it served (`with fake.serve() as base_url`): the
    served fake answers each connection in its own thread, so the waits overlap as they do at Upstage.
    """

    def __init__(self, *, scale: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("rps_limit", RATE_LIMIT)
        kwargs.setdefault("seconds_per_batch", SECONDS_PER_BATCH * scale)
        super().__init__(latency=0.0, **kwargs)
        self.latencies = {k: v * scale for k, v in LATENCY.items()}
        self.first_arrival: float | None = None
        self.last_reply: float | None = None

    def dispatch(self, method: str, url: str, headers: Any, body: bytes) -> Any:
        arrived = time.monotonic()
        reply = super().dispatch(method, url, headers, body)
        endpoint, _ = self._route(method, urlsplit(url).path)
        key = "rejected" if reply.status == 429 else (endpoint or "")
        time.sleep(self.latencies.get(key, 0.0))
        with self._lock:
            if self.first_arrival is None or arrived < self.first_arrival:
                self.first_arrival = arrived
            self.last_reply = time.monotonic()
        return reply

    @property
    def api_span(self) -> float:
        """Seconds from the first request's arrival to the last reply."""
        if self.first_arrival is None or self.last_reply is None:
            return 0.0
        return self.last_reply - self.first_arrival


def cloud_env(base_url: str, home: Path, out: Path, rate: float = RATE_LIMIT) -> dict[str, str]:
    """Environment for `upstage-ocr` against the fake: key, base URL, a private store and result folder."""
    env = dict(os.environ)
    env.update(
        UPSTAGE_API_KEY=DEFAULT_KEY,
        UPSTAGE_BASE_URL=base_url,
        UPSTAGE_OCR_HOME=str(home),
        UPSTAGE_OCR_RATE_LIMIT=f"{rate:g}",
        UPSTAGE_OCR_ENGINE="upstage",
        TMPDIR=str(out),
    )
    home.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return env


def local_env(home: Path, out: Path, *, fake_engine: bool, scratch: Path) -> dict[str, str]:
    """Environment for `upstage-ocr --engine local` (optionally the fast fake engine from tests/helpers)."""
    env = dict(os.environ)
    env.pop("UPSTAGE_API_KEY", None)
    env.update(UPSTAGE_OCR_HOME=str(home), UPSTAGE_OCR_ENGINE="local", TMPDIR=str(out))
    home.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    if fake_engine:
        from helpers import fake_engine_env

        env = fake_engine_env(scratch / "sitecustomize", env)
    return env


# -- documents -----------------------------------------------------------------------------------------------

_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "at",
    "or",
    "an",
    "which",
    "have",
    "not",
    "has",
    "document",
    "page",
    "invoice",
    "total",
    "amount",
    "date",
    "number",
    "customer",
    "order",
    "payment",
    "account",
    "report",
    "section",
    "table",
    "figure",
    "result",
    "value",
    "account",
    "balance",
    "receipt",
    "tax",
    "item",
    "quantity",
    "price",
    "summary",
    "review",
    "notes",
    "agreement",
    "contract",
    "party",
    "service",
    "period",
    "annual",
    "quarter",
    "revenue",
    "cost",
    "market",
    "growth",
    "data",
    "system",
]
A4 = (595, 842)


def _text_lines(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(7, 11))) for _ in range(count)]


def make_text_pdf(path: Path, pages: int, *, seed: int = 0, lines: int = 40) -> Path:
    """An A4 PDF of `pages` pages, each `lines` lines of English text in Helvetica 11 pt (vector text, so the
    file stays small: about 1.5 KB a page). Each page differs (its number and a seeded word choice)."""
    rng = random.Random(seed)
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for n in range(pages):
        text = [f"Page {n + 1} of {pages} - benchmark document {seed}", *_text_lines(rng, lines - 1)]
        ops = ["BT", "/F1 11 Tf", "14 TL", "60 780 Td"]
        for line in text:
            ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '")
        ops.append("ET")
        stream = zlib.compress("\n".join(ops).encode("latin-1"))
        content = add(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >>"
                b" /Contents %d 0 R >>" % (pages_obj, A4[0], A4[1], font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def make_page_images(directory: Path, count: int, *, seed: int = 0, scale: float = 150 / 72) -> list[Path]:
    """`count` one-page PNG scans (A4 text at 150 DPI by default, grayscale), each with different text."""
    import pypdfium2 as pdfium

    directory.mkdir(parents=True, exist_ok=True)
    pdf_path = directory / "_source.pdf.tmp"
    make_text_pdf(pdf_path, count, seed=seed)
    pdf = pdfium.PdfDocument(str(pdf_path))
    paths = []
    try:
        for i in range(count):
            image = pdf[i].render(scale=scale, grayscale=True).to_pil()
            path = directory / f"scan_{i + 1:04d}.png"
            image.save(path, optimize=False)
            paths.append(path)
    finally:
        pdf.close()
        pdf_path.unlink()
    return paths


# -- processes -----------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss_kb: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def cores(self) -> float:
        """CPU time over wall time: 1.0 = one core busy the whole time."""
        return self.cpu / self.wall if self.wall else 0.0


def run_child(argv: Sequence[str], env: dict[str, str] | None = None, *, timeout: float = 3600) -> Run:
    """Run a process to its end; wall time, its CPU time (user + system) and peak RSS from wait4()."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_kb=int(usage.ru_maxrss),
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def cli(*args: str) -> list[str]:
    """argv for the real `upstage-ocr` entry point of this environment."""
    exe = BIN_DIR / "upstage-ocr"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "upstage_ocr", *args]


def proc_status_kb(field: str) -> int:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM); 0 where there is no /proc."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# -- output --------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (numbers formatted by the caller)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"


@contextlib.contextmanager
def workdir(keep: str | None = None) -> Iterator[Path]:
    """A scratch directory (removed afterwards unless `keep` names one to use and keep)."""
    import shutil
    import tempfile

    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="upstage-ocr-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
