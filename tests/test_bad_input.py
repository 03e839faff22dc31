"""Bad input, through both front doors: the CLI (the error class's exit code, ONE `upstage-ocr:` line on stderr,
no traceback, nothing on stdout) and the MCP server in process (is_error with the same message; the server keeps
serving: a good call right after works). Afterwards nothing partial looks finished: no result file, no job.

Each row of CASES is one line of the matrix in docs/RELIABILITY.md. Local engine = the fast fake.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from helpers import expected_text, fake_engine, make_pdf, make_png, private_tempdir
from upstage_ocr.cli import main
from upstage_ocr.inputs import download as urls
from upstage_ocr.jobs.store import JobStore
from upstage_ocr.mcp_server import build_server
from upstage_ocr.settings import Settings

GOOD = "good.png"


# -- a misbehaving web server on loopback (slow, huge, redirect loops) ------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        try:
            if path == "/slow.png":  # headers at once, then one byte every 0.2 s
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif path == "/huge-declared.pdf":  # says 60 MB up front
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(60 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(b"%PDF-1.7\n" + b"\x00" * 65536)
            elif path == "/huge-chunked.pdf":  # no length: streams past the cap
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\x00" * 65536
                for _ in range(200):  # 12.5 MB at most; the (lowered) cap is 1 MB
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            elif path in ("/loop-a", "/loop-b"):
                self._redirect("/loop-b" if path == "/loop-a" else "/loop-a")
            elif m := re.fullmatch(r"/chain/(\d+)", path):
                self._redirect(f"/chain/{int(m.group(1)) + 1}")
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
        except OSError:
            pass

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-body is the point of these endpoints; never print to stderr


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = _Quiet(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- bad files ------------------------------------------------------------------------------------------------


def _png_bomb(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A PNG whose header claims 900 MP and whose data is a few bytes: only decoding would find out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def _truncated_jpeg(path: Path) -> Path:
    import random

    rng = random.Random(7)
    img = Image.new("RGB", (400, 300))
    img.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(400 * 300)])
    img.save(path, format="JPEG", quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _pdf_pages(path: Path, pages: int) -> Path:
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(300, 400))
    pdf.save(path)
    return path


def _encrypted_pdf(path: Path) -> Path:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path, encryption=pikepdf.Encryption(owner="owner-pw", user="user-pw"))
    return path


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.write(b"%PDF-1.7\n")
        fh.truncate(size)
    return path


@dataclass
class Ctx:
    src: Path  # where the inputs live
    web: str  # base URL of the misbehaving loopback web server
    good: Path


@dataclass
class Case:
    name: str
    build: Callable[[Ctx], tuple[list[str], dict[str, Any]]]  # -> (CLI argv, MCP ocr_document/tool args)
    code: int  # CLI exit code
    tag: str  # MCP error tag, e.g. "[file_missing]" (or "validation error")
    match: str  # regex both messages contain
    upstage: bool = False  # run against the fake Upstage API (it must see no call at all)
    private: bool = False  # UPSTAGE_OCR_ALLOW_PRIVATE_URLS=1 (loopback web server)
    tool: str = "ocr_document"
    cli_match: str | None = None  # when the CLI says it differently


def _ocr(source: str | Path, *cli: str, **mcp: Any) -> tuple[list[str], dict[str, Any]]:
    return ["ocr", "--quiet", *cli, str(source)], {"path": str(source), **mcp}


def _unreadable(c: Ctx) -> tuple[list[str], dict[str, Any]]:
    path = make_png(c.src / "secret.png")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who can read mode-000 files (root)")
    return _ocr(path)


def _bad_text(c: Ctx) -> Path:
    path = c.src / "photo.png"
    path.write_text("plain text under a .png name")
    return path


CASES = [
    Case("missing file", lambda c: _ocr(c.src / "nope.pdf"), 2, "[file_missing]", "file not found"),
    Case(
        "directory",
        lambda c: _ocr(_mkdir(c.src / "folder")),
        2,
        "[file_missing]",
        "is a directory",
        cli_match="no supported files found",  # the CLI OCRs a folder's documents; this one has none
    ),
    Case(
        "empty file", lambda c: _ocr(_touch(c.src / "empty.png")), 2, "[file_missing]", r"empty \(0 bytes\)"
    ),
    Case("no read permission", _unreadable, 2, "[file_missing]", "permission denied"),
    Case(
        "corrupt PDF",
        lambda c: _ocr(_write(c.src / "broken.pdf", b"%PDF-1.7\n1 0 obj garbage\n" * 50)),
        5,
        "[corrupt_document]",
        "damaged PDF",
    ),
    Case(
        "encrypted PDF",
        lambda c: _ocr(_encrypted_pdf(c.src / "locked.pdf")),
        2,
        "[bad_input]",
        "password-protected",
    ),
    Case(
        "PDF with zero pages",
        lambda c: _ocr(_pdf_pages(c.src / "zero.pdf", 0)),
        5,
        "[corrupt_document]",
        "no pages",
    ),
    Case(
        "truncated JPEG",
        lambda c: _ocr(_truncated_jpeg(c.src / "cut.jpg")),
        5,
        "[corrupt_document]",
        "truncated|damaged",
    ),
    Case("decompression bomb", lambda c: _ocr(_png_bomb(c.src / "bomb.png")), 4, "[too_large]", "pixels"),
    Case(
        "unsupported content, supported extension",
        lambda c: _ocr(_bad_text(c)),
        3,
        "[unsupported_format]",
        "content is not a PNG",
    ),
    Case(
        "unsupported type",
        lambda c: _ocr(_write(c.src / "notes.txt", b"hello")),
        3,
        "[unsupported_format]",
        "unrecognised file type",
    ),
    Case(
        "over 50 MB (sparse)",
        lambda c: _ocr(_sparse(c.src / "huge.pdf", 50 * 1024 * 1024 + 1)),
        4,
        "[too_large]",
        "50 MB",
    ),
    Case(
        "over 1,000 pages (upstage)",
        lambda c: _ocr(_pdf_pages(c.src / "long.pdf", 1001), "--engine", "upstage", engine="upstage"),
        4,
        "[too_large]",
        "1001 pages",
        upstage=True,
    ),
    Case(
        "page range outside the document",
        lambda c: _ocr(make_pdf(c.src / "two.pdf", 2), "--pages", "2-5", pages="2-5"),
        2,
        "[bad_page_range]",
        "outside the document",
    ),
    *[
        Case(
            f"malformed page range {spec!r}",
            lambda c, spec=spec: _ocr(make_pdf(c.src / "two.pdf", 2), f"--pages={spec}", pages=spec),
            2,
            "[bad_page_range]",
            "invalid page range|start at 1|runs backwards",
        )
        for spec in ("1-x", "2-1", "0", "1,,2")
    ],
    Case(
        "upstage page selection in a TIFF",
        lambda c: _ocr(
            _tiff(c.src / "two.tif"), "--engine", "upstage", "--pages", "1", engine="upstage", pages="1"
        ),
        2,
        "[bad_page_range]",
        "only in PDFs",
        upstage=True,
    ),
    Case("file:// URL", lambda c: _ocr(c.good.as_uri()), 2, "[bad_url]", "only http and https"),
    Case("ftp:// URL", lambda c: _ocr("ftp://example.com/doc.pdf"), 2, "[bad_url]", "only http and https"),
    *[
        Case(
            f"internal URL {url}", lambda c, url=url: _ocr(url), 2, "[bad_url]", "refusing to fetch.*internal"
        )
        for url in (
            "http://127.0.0.1:9/doc.png",
            "http://localhost/doc.png",
            "http://10.1.2.3/doc.pdf",
            "http://192.168.0.10/doc.pdf",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/doc.png",
            "http://[::ffff:127.0.0.1]/doc.png",
        )
    ],
    Case(
        "slow URL (allowed private)",
        lambda c: _ocr(f"{c.web}/slow.png"),
        2,
        "[bad_url]",
        "took longer than|timed out",
        private=True,
    ),
    Case(
        "huge URL, declared length",
        lambda c: _ocr(f"{c.web}/huge-declared.pdf"),
        4,
        "[too_large]",
        "larger than",
        private=True,
    ),
    Case(
        "huge URL, streamed",
        lambda c: _ocr(f"{c.web}/huge-chunked.pdf"),
        4,
        "[too_large]",
        "larger than",
        private=True,
    ),
    Case(
        "URL redirecting in a loop",
        lambda c: _ocr(f"{c.web}/loop-a"),
        2,
        "[bad_url]",
        "redirects in a loop",
        private=True,
    ),
    Case(
        "URL redirecting forever",
        lambda c: _ocr(f"{c.web}/chain/0"),
        2,
        "[bad_url]",
        "too many redirects",
        private=True,
    ),
    Case(
        "URL answering 404",
        lambda c: _ocr(f"{c.web}/missing.pdf"),
        2,
        "[bad_url]",
        "status=404",
        private=True,
    ),
    Case(
        "unknown job id",
        lambda c: (["status", "deadbeef"], {"job_id": "deadbeef"}),
        17,
        "[job_error]",
        "no job with id 'deadbeef'",
        tool="get_ocr_status",
    ),
    Case(
        "unknown job id (fetch)",
        lambda c: (["fetch", "deadbeef"], {"job_id": "deadbeef"}),
        17,
        "[job_error]",
        "no job with id 'deadbeef'",
        tool="fetch_ocr_pages",
    ),
    Case(
        "unknown job id (export)",
        lambda c: (["export", "deadbeef", "-f", "txt"], {"job_id": "deadbeef", "format": "txt"}),
        17,
        "[job_error]",
        "no job with id 'deadbeef'",
        tool="export_ocr",
    ),
    Case(
        "non-existent output directory",
        lambda c: _ocr(
            make_png(c.src / "a.png"),
            "-o",
            str(c.src / "no" / "such" / "a.json"),
            output=str(c.src / "no" / "such" / "a.json"),
        ),
        2,
        "[bad_output_path]",
        "does not exist",
    ),
    Case(
        "output path overwriting the input",
        lambda c: _ocr(
            make_png(c.src / "self.png"), "-o", str(c.src / "self.png"), output=str(c.src / "self.png")
        ),
        2,
        "[bad_output_path]",
        "is the input file",
    ),
    Case(
        "unknown engine",
        lambda c: _ocr(make_png(c.src / "a.png"), "--engine", "bogus", engine="bogus"),
        2,
        "validation error",
        "engine",
        cli_match="invalid choice: 'bogus'",
    ),
    Case(
        "unknown schema",
        lambda c: _ocr(make_png(c.src / "a.png"), "--schema", "bogus", schema="bogus"),
        2,
        "validation error",
        "schema",
        cli_match="invalid choice: 'bogus'",
    ),
]


def _as_parse(case: Case) -> Case:
    """The same bad input given to Document Parse (`upstage-ocr parse`, `parse_document`): the same error."""

    def build(c: Ctx) -> tuple[list[str], dict[str, Any]]:
        argv, args = case.build(c)
        return ["parse", *argv[1:]], args

    return replace(case, name=f"{case.name} (parse)", build=build, tool="parse_document")


# Every bad input of OCR, once more through parse (the schema option is OCR's alone).
PARSE_CASES = [_as_parse(c) for c in CASES if c.tool == "ocr_document" and c.name != "unknown schema"]


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _tiff(path: Path) -> Path:
    from helpers import page_image

    page_image(1).save(path, format="TIFF", save_all=True, append_images=[page_image(2)])
    return path


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- the matrix ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_local(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "2")
    # URL downloads: a 1 s deadline and a 1 MB cap (instead of 60 s and 50 MB), so slow/huge fail fast.
    monkeypatch.setattr(urls, "DEFAULT_TIMEOUT", 1.0)
    monkeypatch.setattr(urls, "DEFAULT_MAX_BYTES", 1024 * 1024)
    with fake_engine():
        yield


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("upstage-ocr: "), err
    assert "Traceback" not in err
    return lines[0]


async def _to_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a function that starts its own event loop (cli.main) from async code."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES + PARSE_CASES, ids=[c.name for c in CASES + PARSE_CASES])
async def test_bad_input(case: Case, capsys, tmp_path, monkeypatch, web):
    from fake_upstage import DEFAULT_KEY, FakeUpstage

    src = tmp_path / "in"
    src.mkdir()
    ctx = Ctx(src=src, web=web, good=make_png(src / GOOD, 7))
    results = Path(os.environ["TMPDIR"])
    home = Path(os.environ["UPSTAGE_OCR_HOME"])
    if case.private:
        monkeypatch.setenv("UPSTAGE_OCR_ALLOW_PRIVATE_URLS", "1")
    fake = FakeUpstage()
    with fake.serve() as base_url:
        if case.upstage:
            monkeypatch.setenv("UPSTAGE_API_KEY", DEFAULT_KEY)
            monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        argv, args = case.build(ctx)
        inputs_before = {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in src.iterdir()
            if p.is_file() and os.access(p, os.R_OK)
        }

        # 1. the CLI
        started = time.monotonic()
        try:
            code = await _to_thread(main, argv)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        cli_seconds = time.monotonic() - started
        assert code == case.code, (code, err)
        assert out == ""
        line = one_line_error(err)
        assert re.search(case.cli_match or case.match, line), line

        # 2. the MCP server in process: an error result, then a good call on the same server works
        async with Client(build_server(Settings.load())) as client:
            result = await client.call_tool(case.tool, args)
            assert result.is_error is True, result.structured_content
            message = result.content[0].text  # type: ignore[union-attr]
            assert "Traceback" not in message
            assert case.tag in message, message
            assert re.search(case.match, message), message
            good = await client.call_tool("ocr_document", {"path": str(ctx.good), "engine": "local"})
            assert good.is_error is False, good.content
            assert good.structured_content is not None
            assert good.structured_content["status"] == "completed"
            assert good.structured_content["text"] == expected_text(7)

        # 3. nothing partial left looking finished
        jobs = JobStore(home).list(limit=100)
        assert [(j.input_name, j.status) for j in jobs] == [(GOOD, "completed")]
        assert _files(results) == {"good.ocr.json"}, "a result (or temp) file was left for the bad input"
        assert not _files(home / "downloads"), "a partial download was left behind"
        for path, digest in inputs_before.items():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was modified"
        if case.name == "decompression bomb":
            assert cli_seconds < 5, "the bomb was decoded instead of refused from its header"
    if case.upstage:
        assert fake.calls == [], "the fake Upstage API saw a call for input refused up front"


# -- must work -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_supported_type_without_extension_works(capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    scan = src / "scan"
    scan.write_bytes(make_png(tmp_path / "x.png", 4).read_bytes())
    results = Path(os.environ["TMPDIR"])
    code = await _to_thread(main, ["ocr", "--quiet", str(scan)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == str(results / "scan.ocr.json")
    async with Client(build_server(Settings.load())) as client:
        result = await client.call_tool("ocr_document", {"path": str(scan), "force": True})
        assert result.is_error is False, result.content
        assert result.structured_content is not None
        assert result.structured_content["text"] == expected_text(4)


@pytest.mark.anyio
async def test_malformed_mcp_arguments_are_errors_and_the_server_keeps_serving(tmp_path):
    good = make_png(tmp_path / GOOD, 3)
    async with Client(build_server(Settings.load())) as client:
        for tool, args in [
            ("ocr_document", {"path": 123}),
            ("ocr_document", {"path": None}),
            ("ocr_document", {"path": str(good), "force": "maybe"}),
            ("ocr_document", {"path": str(good), "pages": [1, 2]}),
            ("ocr_document", {"path": str(good), "wait": {"x": 1}}),
            ("fetch_ocr_pages", {"job_id": ["a"]}),
            ("render_ocr_page", {"job_id": "x", "page": 0}),
            ("render_ocr_page", {"job_id": "x", "page": "one"}),
            ("list_ocr_jobs", {"limit": 10_000}),
            ("export_ocr", {"job_id": "x", "format": "exe"}),
        ]:
            result = await client.call_tool(tool, args)
            assert result.is_error is True, (tool, args, result.structured_content)
            text = result.content[0].text  # type: ignore[union-attr]
            assert "validation error" in text and "Traceback" not in text, text
        unknown = await client.call_tool("no_such_tool", {})
        assert unknown.is_error is True
        ok = await client.call_tool("ocr_document", {"path": str(good)})
        assert ok.is_error is False and ok.structured_content is not None
        assert ok.structured_content["text"] == expected_text(3)
    jobs = JobStore(Path(os.environ["UPSTAGE_OCR_HOME"])).list(limit=100)
    assert [(j.input_name, j.status) for j in jobs] == [(GOOD, "completed")]


def test_env_unknown_engine_is_one_line_config_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("UPSTAGE_OCR_ENGINE", "bogus")
    code = main(["ocr", str(make_png(tmp_path / "a.png"))])
    _out, err = capsys.readouterr()
    assert code == 6
    assert "unknown engine 'bogus'" in one_line_error(err)


@pytest.mark.anyio
async def test_selecting_every_page_of_an_image_on_upstage_works(tmp_path):
    """`--pages 1` on a one-page PNG is no selection: uploaded as is (it used to fail cutting a PDF from a PNG)."""
    from fake_upstage import DEFAULT_KEY, FakeUpstage
    from upstage_ocr.jobs.service import OCRService

    fake = FakeUpstage()
    png = make_png(tmp_path / "one.png")
    settings = Settings.load(api_key=DEFAULT_KEY, rate_limit=1000.0)
    async with OCRService(settings, transport=fake.transport()) as service:
        sub = await service.submit(str(png), engine="upstage", pages="1")
        job = await service.run(sub.job.id)
        assert job.status == "completed", job.error
        again = await service.submit(str(png), engine="upstage")
        assert again.reused and again.job.id == job.id, "the same job as without a selection"
    (call,) = fake.calls_to("sync")
    assert call.files["document"].filename == "one.png"
