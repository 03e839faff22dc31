"""Shared test helpers: a FAST fake local engine, N-page document generators and subprocess plumbing.

The fake engine stands in for the real RapidOCR engine (registered as "local" in `upstage_ocr.engines.base`)
so most tests never load a model. It reads the page number from a small barcode that `make_pdf`/`make_png`
draw on every page, so each page's text is known in advance: "Page <n> \\nhello world".

Knobs (environment variables, so they also reach subprocesses):
- UPSTAGE_OCR_FAKE_DELAY: seconds each `recognize` call sleeps (to kill a job mid-way);
- UPSTAGE_OCR_FAKE_CALLS: a file; every `recognize` call appends "<page>\\n" to it;
- UPSTAGE_OCR_FAKE_FAIL_PAGE: a page number whose recognition raises RuntimeError.

Subprocesses get the fake engine through `fake_engine_env(dir)`: a generated `sitecustomize.py` on PYTHONPATH
installs it at interpreter start (this reaches `--no-wait` workers too).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageStat

TESTS_DIR = Path(__file__).resolve().parent
SERVER_DIR = TESTS_DIR.parent / "server"

BASE_W, BASE_H = 400, 300
_CELL, _PITCH, _X0, _Y0, _BITS = 16, 20, 20, 20, 12
FAKE_MODEL_VERSION = "fake-local-1"

# -- documents ---------------------------------------------------------------------------------------------


def page_image(number: int) -> Image.Image:
    """A 400x300 page carrying its number as a barcode: a black guard cell, a white one, then 12 bits."""
    img = Image.new("RGB", (BASE_W, BASE_H), "white")
    draw = ImageDraw.Draw(img)
    cells = [True, False] + [bool((number >> bit) & 1) for bit in range(_BITS)]
    for i, black in enumerate(cells):
        if black:
            x = _X0 + i * _PITCH
            draw.rectangle([x, _Y0, x + _CELL - 1, _Y0 + _CELL - 1], fill="black")
    draw.text((20, 120), f"Page {number}", fill="black")
    draw.text((20, 160), "hello world", fill="black")
    return img


def make_pdf(path: Path, pages: int, first: int = 1) -> Path:
    """An N-page PDF (pages numbered first..first+N-1 in their barcodes)."""
    images = [page_image(first + i) for i in range(pages)]
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return path


def make_png(path: Path, number: int = 1) -> Path:
    page_image(number).save(path, format="PNG")
    return path


def expected_text(number: int) -> str:
    """The page text the fake engine produces for page `number` (Upstage joins lines with " \\n")."""
    return f"Page {number} \nhello world"


def read_page_number(image: Image.Image) -> int | None:
    """The barcode's page number, or None for an image without one."""
    if abs(image.width / image.height - BASE_W / BASE_H) > 0.02:
        return None
    gray = image.convert("L")
    scale = image.width / BASE_W

    def black(i: int) -> bool:
        cx = (_X0 + i * _PITCH + _CELL / 2) * scale
        cy = (_Y0 + _CELL / 2) * scale
        r = max(1, int(_CELL * scale / 4))
        box = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
        return float(ImageStat.Stat(gray.crop(box)).mean[0]) < 128

    if not black(0) or black(1):
        return None
    return sum(1 << bit for bit in range(_BITS) if black(2 + bit))


# -- the fake local engine ---------------------------------------------------------------------------------


class FastEngine:
    """A local engine that recognises the test documents instantly (and nothing else)."""

    name = "local"

    @property
    def model_version(self) -> str:
        return FAKE_MODEL_VERSION

    def model_version_for(self, lang: str | None) -> str:
        return FAKE_MODEL_VERSION

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[Any]:
        from upstage_ocr.models import RawWord

        number = read_page_number(image)
        calls = os.environ.get("UPSTAGE_OCR_FAKE_CALLS")
        if calls:
            with open(calls, "a", encoding="utf-8") as fh:
                fh.write(f"{number}\n")
        if number is not None and str(number) == os.environ.get("UPSTAGE_OCR_FAKE_FAIL_PAGE"):
            raise RuntimeError(f"fake engine failure on page {number}")
        delay = float(os.environ.get("UPSTAGE_OCR_FAKE_DELAY") or 0)
        if delay:
            time.sleep(delay)
        sx, sy = image.width / BASE_W, image.height / BASE_H

        def box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
            return [(x0 * sx, y0 * sy), (x1 * sx, y0 * sy), (x1 * sx, y1 * sy), (x0 * sx, y1 * sy)]

        lines: list[list[tuple[str, float]]] = []
        if number is not None:
            lines.append([("Page", 0.98), (str(number), 0.9)])
        lines.append([("hello", 0.95), ("world", 0.85)])
        words = []
        for li, line in enumerate(lines):
            y = 120 + 40 * li
            for wi, (text, conf) in enumerate(line):
                x = 20 + 70 * wi
                words.append(RawWord(text=text, confidence=conf, points=box(x, y, x + 60, y + 20), line=li))
        return words


def fake_engine() -> contextlib.AbstractContextManager[None]:
    """FastEngine as "local" (in place of RapidOCR) inside the block."""
    from upstage_ocr.engines.base import override_engines

    return override_engines({"local": FastEngine})


_PROCESS_WIDE = contextlib.ExitStack()


def install_fake_engine() -> None:
    """FastEngine as "local" for the rest of this process (test subprocesses, benchmarks)."""
    _PROCESS_WIDE.enter_context(fake_engine())


_SITECUSTOMIZE = """\
import sys
sys.path.insert(0, {tests!r})
try:
    import helpers
    helpers.install_fake_engine()
finally:
    sys.path.remove({tests!r})
"""


def fake_engine_env(directory: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `env` (default os.environ) whose Python processes use the fake engine for "local"."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(tests=str(TESTS_DIR)))
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), out.get("PYTHONPATH", "")) if p)
    return out


# -- environment -----------------------------------------------------------------------------------------


def private_tempdir(monkeypatch: Any, tmp_path: Path) -> Path:
    """Point the default result location (<temp>/<stem>.ocr.json) at a per-test directory (and subprocesses)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp.resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def assert_upstage_json(path: str | Path, pages: int | None = None) -> dict[str, Any]:
    """The file exists, is JSON in the Upstage Document OCR shape, and has `pages` pages if given."""
    from upstage_ocr.models import OCRResult

    p = Path(path)
    assert p.is_absolute(), p
    assert p.is_file(), p
    data = json.loads(p.read_text(encoding="utf-8"))
    result = OCRResult.model_validate(data)
    assert data["apiVersion"] == "1.1"
    for key in ("confidence", "metadata", "mimeType", "modelVersion", "numBilledPages", "pages", "text"):
        assert key in data, key
    if pages is not None:
        assert len(result.pages) == pages
        assert [m.page for m in result.metadata.pages] == list(range(1, pages + 1))
    return dict(data)


def python() -> str:
    return sys.executable


# -- the fake Upstage API --------------------------------------------------------------------------------------


def downloaded_batches(fake: Any) -> list[int]:
    """Batch indexes of every pre-signed download the fake served, in order (repeats included)."""
    out = []
    for call in fake.calls_to("download"):
        token = call.path.rsplit("/", 1)[-1]
        out.append(int(fake._tokens[token][1]))
    return out


def fast_polling(monkeypatch: Any, interval: float = 0.05) -> None:
    """Make the Upstage client poll async requests every `interval` seconds (in this process)."""
    from upstage_ocr.upstage import client

    monkeypatch.setattr(client, "POLL_SECONDS", interval)
    monkeypatch.setattr(client, "MAX_POLL_SECONDS", interval * 4)


# -- a raw stdio MCP server process (for SIGKILL tests) ------------------------------------------------------


class StdioServer:
    """`python -m upstage_ocr serve` as a subprocess driven with raw JSON-RPC over pipes (legacy handshake).

    Unlike the SDK client, it exposes the process, so a test can SIGKILL it mid-job. Every stdout line is kept
    in `lines` (each must be a JSON-RPC message).
    """

    def __init__(self, env: dict[str, str], cwd: Path | None = None, log: Path | None = None):
        import queue
        import subprocess
        import threading

        self._log = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in close()/kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "upstage_ocr", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=str(cwd) if cwd else None,
        )
        self.lines: list[bytes] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._next_id = 0

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                self._queue.put(json.loads(line))
            self._queue.put(None)

        threading.Thread(target=read, daemon=True).start()
        init = self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "helpers.StdioServer", "version": "0"},
            },
            timeout=60,
        )
        assert init["serverInfo"]["name"] == "upstage-ocr"
        self.notify("notifications/initialized")

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})})

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        import queue

        self._next_id += 1
        rid = self._next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, **({"params": params} if params else {})})
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty as exc:
                raise TimeoutError(f"no answer to {method} within {timeout}s") from exc
            if msg is None:
                raise RuntimeError(f"the server exited (code {self.proc.poll()}) before answering {method}")
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def call(self, tool: str, arguments: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """A tool's structured result; AssertionError if the tool reported an error."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments}, timeout=timeout)
        assert result.get("isError") is not True, result["content"]
        return dict(result["structuredContent"])

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release, nothing flushed."""
        import signal

        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_log()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        close = getattr(self._log, "close", None)
        if close:
            close()

    def __enter__(self) -> StdioServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
