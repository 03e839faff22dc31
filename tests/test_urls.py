"""download_url: scheme and address checks on every hop, size and time caps, file names; mock and loopback."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest

from upstage_ocr import errors
from upstage_ocr.inputs.download import download_url, is_public_address, sanitize_filename

pytestmark = pytest.mark.anyio

PUBLIC_IP = "93.184.216.34"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def resolver_for(table: dict[str, list[str]]):
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise OSError("no such host")
        return table[host]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


PUBLIC = resolver_for({"docs.example": [PUBLIC_IP], "cdn.example": ["151.101.1.1"]})


class Recorder:
    """A MockTransport handler from a {path: response factory} map, recording every request."""

    def __init__(self, routes: dict[str, httpx.Response]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.routes.get(request.url.path)
        if response is None:
            return httpx.Response(404, text="not found")
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://docs.example/a.pdf", "javascript:alert(1)", "gopher://x/", "//x/a.pdf"],
)
async def test_only_http_and_https(url: str, tmp_path: Path) -> None:
    rec = Recorder({})
    with pytest.raises(errors.URLError) as info:
        await download_url(url, tmp_path, transport=rec.transport(), resolver=PUBLIC)
    assert rec.requests == [] and listing(tmp_path) == []
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.pdf",
        "http://localhost.internal/a.pdf",
        "http://10.1.2.3/a.pdf",
        "http://192.168.0.10/a.pdf",
        "http://172.16.5.4/a.pdf",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.pdf",
        "http://[fe80::1]/a.pdf",
        "http://[::ffff:127.0.0.1]/a.pdf",
        "http://0.0.0.0/a.pdf",
        "http://224.0.0.1/a.pdf",
        "http://100.64.0.1/a.pdf",
        "http://mixed.example/a.pdf",
    ],
)
async def test_internal_addresses_are_refused(url: str, tmp_path: Path) -> None:
    resolve = resolver_for({"localhost.internal": ["127.0.0.1"], "mixed.example": [PUBLIC_IP, "10.0.0.1"]})
    rec = Recorder({"/a.pdf": httpx.Response(200, content=b"%PDF-1.7")})
    with pytest.raises(errors.URLError, match="private, loopback or otherwise internal") as info:
        await download_url(url, tmp_path, transport=rec.transport(), resolver=resolve)
    assert "UPSTAGE_OCR_ALLOW_PRIVATE_URLS" in str(info.value)
    assert rec.requests == [] and listing(tmp_path) == []


def test_is_public_address() -> None:
    assert is_public_address(PUBLIC_IP) and is_public_address("2606:4700:4700::1111")
    for bad in ("127.0.0.1", "10.0.0.1", "::1", "fe80::1", "::ffff:10.0.0.1", "240.0.0.1", "not-an-ip"):
        assert not is_public_address(bad)


async def test_public_download_is_pinned_to_the_checked_address(tmp_path: Path) -> None:
    rec = Recorder({"/files/report.pdf": httpx.Response(200, content=b"%PDF-1.7 data")})
    path = await download_url(
        "https://user:pw@docs.example/files/report.pdf?token=abc",
        tmp_path,
        transport=rec.transport(),
        resolver=PUBLIC,
    )
    assert path == tmp_path / "report.pdf" and path.read_bytes() == b"%PDF-1.7 data"
    request = rec.requests[0]
    assert request.url.host == PUBLIC_IP and request.headers["host"] == "docs.example"
    assert request.extensions.get("sni_hostname") == "docs.example"
    assert listing(tmp_path) == ["report.pdf"]  # no temp file left behind


async def test_redirects_are_checked_hop_by_hop(tmp_path: Path) -> None:
    resolve = resolver_for(
        {"docs.example": [PUBLIC_IP], "cdn.example": ["151.101.1.1"], "evil.example": ["10.0.0.5"]}
    )
    rec = Recorder(
        {
            "/start": httpx.Response(302, headers={"location": "https://cdn.example/blob/scan"}),
            "/blob/scan": httpx.Response(200, content=PNG, headers={"content-type": "image/png"}),
            "/to-private": httpx.Response(301, headers={"location": "http://evil.example/secret"}),
            "/to-metadata": httpx.Response(307, headers={"location": "http://169.254.169.254/latest"}),
        }
    )
    path = await download_url(
        "https://docs.example/start", tmp_path, transport=rec.transport(), resolver=resolve
    )
    assert path.name == "scan.png" and path.read_bytes() == PNG
    assert [r.headers["host"] for r in rec.requests] == ["docs.example", "cdn.example"]
    for start in ("https://docs.example/to-private", "https://docs.example/to-metadata"):
        count = len(rec.requests)
        with pytest.raises(errors.URLError, match="internal address"):
            await download_url(start, tmp_path, transport=rec.transport(), resolver=resolve)
        assert len(rec.requests) == count + 1  # the internal hop was never requested
    assert listing(tmp_path) == ["scan.png"]


async def test_redirect_loops_and_chains(tmp_path: Path) -> None:
    routes = {
        "/a": httpx.Response(302, headers={"location": "/b"}),
        "/b": httpx.Response(302, headers={"location": "https://docs.example/a"}),
        "/nowhere": httpx.Response(302),
    }
    for i in range(10):
        routes[f"/chain{i}"] = httpx.Response(302, headers={"location": f"/chain{i + 1}"})
    rec = Recorder(routes)
    with pytest.raises(errors.URLError, match="loop"):
        await download_url("https://docs.example/a", tmp_path, transport=rec.transport(), resolver=PUBLIC)
    with pytest.raises(errors.URLError, match="too many redirects"):
        await download_url(
            "https://docs.example/chain0",
            tmp_path,
            transport=rec.transport(),
            resolver=PUBLIC,
            max_redirects=3,
        )
    assert sum(r.url.path.startswith("/chain") for r in rec.requests) == 4
    with pytest.raises(errors.URLError, match="Location"):
        await download_url(
            "https://docs.example/nowhere", tmp_path, transport=rec.transport(), resolver=PUBLIC
        )
    assert listing(tmp_path) == []


async def test_file_names(tmp_path: Path) -> None:
    rec = Recorder(
        {
            "/render.php": httpx.Response(
                200, content=b"%PDF-1", headers={"content-type": "application/pdf"}
            ),
            "/dl": httpx.Response(
                200,
                content=b"x",
                headers={"content-disposition": "attachment; filename*=UTF-8''%ED%95%9C%EA%B8%80%20scan.jpg"},
            ),
            "/evil": httpx.Response(
                200, content=b"x", headers={"content-disposition": 'attachment; filename="../../.bashrc"'}
            ),
            "/": httpx.Response(200, content=b"x", headers={"content-type": "image/jpeg; charset=binary"}),
        }
    )
    names = []
    for path in ("/render.php", "/dl", "/evil", "/", "/render.php"):
        got = await download_url(
            f"https://docs.example{path}", tmp_path, transport=rec.transport(), resolver=PUBLIC
        )
        assert got.parent == tmp_path
        names.append(got.name)
    assert names == ["render.pdf", "한글 scan.jpg", "bashrc", "download.jpg", "render-1.pdf"]


def test_sanitize_filename() -> None:
    assert sanitize_filename("a/b/../c<>|:*?.PDF") == "c_.pdf"
    assert sanitize_filename(
        "report", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ) == ("report.docx")
    assert sanitize_filename("scan.tiff", "application/octet-stream") == "scan.tiff"
    assert sanitize_filename("\x00\x1f", None) == "download"
    assert len(sanitize_filename("x" * 500 + ".pdf")) <= 120 and sanitize_filename(
        "x" * 500 + ".pdf"
    ).endswith(".pdf")


async def test_size_cap(tmp_path: Path) -> None:
    big = b"%PDF" + b"0" * 5000

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/declared":
            return httpx.Response(200, content=big)  # has Content-Length
        return httpx.Response(200, content=stream())  # chunked, no length

    for path in ("/declared", "/chunked"):
        with pytest.raises(errors.FileTooLargeError) as info:
            await download_url(
                f"https://docs.example{path}", tmp_path, transport=httpx.MockTransport(handler), resolver=PUBLIC,
                max_bytes=1000,
            )  # fmt: skip
        assert info.value.exit_code == 4
    assert listing(tmp_path) == []


async def test_slow_download_hits_the_deadline(tmp_path: Path) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x"
            await anyio.sleep(0.05)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    with pytest.raises(errors.URLError, match=r"longer than 0\.3 s"):
        await download_url(
            "https://docs.example/slow.pdf", tmp_path, transport=httpx.MockTransport(handler), resolver=PUBLIC,
            timeout=0.3,
        )  # fmt: skip
    assert listing(tmp_path) == []


async def test_http_errors_and_dns_failures(tmp_path: Path) -> None:
    rec = Recorder({"/gone": httpx.Response(410), "/empty": httpx.Response(200, content=b"")})
    with pytest.raises(errors.URLError) as info:
        await download_url(
            "https://docs.example/gone?sig=SECRET", tmp_path, transport=rec.transport(), resolver=PUBLIC
        )
    assert "status=410" in str(info.value) and "SECRET" not in str(info.value) and info.value.status == 410
    with pytest.raises(errors.URLError, match="empty body"):
        await download_url("https://docs.example/empty", tmp_path, transport=rec.transport(), resolver=PUBLIC)
    with pytest.raises(errors.URLError, match="cannot resolve"):
        await download_url("https://unknown.example/x", tmp_path, transport=rec.transport(), resolver=PUBLIC)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(errors.URLError, match="could not fetch"):
        await download_url(
            "https://docs.example/x", tmp_path, transport=httpx.MockTransport(refuse), resolver=PUBLIC
        )
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------------------------------------
# A real loopback server


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/doc")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = PNG
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_real_loopback_server(tmp_path: Path) -> None:
    with loopback_server() as base:
        with pytest.raises(errors.URLError, match="internal address"):
            await download_url(f"{base}/redirect", tmp_path)
        path = await download_url(f"{base}/redirect", tmp_path, allow_private=True)
        assert path.name == "doc.png" and path.read_bytes() == PNG
        # "localhost" goes through the real resolver
        port = base.rsplit(":", 1)[1]
        with pytest.raises(errors.URLError, match="internal address"):
            await download_url(f"http://localhost:{port}/doc", tmp_path)
    assert listing(tmp_path) == ["doc.png"]
