"""Downloading an http(s) URL input safely: public hosts only, bounded size and time, a clean file name.

`download_url` refuses other schemes, resolves every host (each redirect hop too) and refuses loopback,
private, link-local, multicast, reserved and other non-global addresses unless `allow_private`. The
connection is pinned to the address that was checked (Host header and TLS SNI keep the name), so a DNS
answer that changes between the check and the connect cannot reach an internal address. The body is
streamed to a temporary file under a byte cap and an overall deadline, then renamed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import mimetypes
import os
import re
import socket
import tempfile
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import anyio
import httpx

from .. import __version__
from ..errors import FileTooLargeError, URLError, redact

log = logging.getLogger("upstage_ocr.download")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0  # seconds for the whole download, redirects included
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_NAME_LENGTH = 120
CHUNK_SIZE = 64 * 1024

# Content-Type -> the extension a file of that type should carry.
CONTENT_TYPE_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/tiff": ".tiff",
    "image/bmp": ".bmp",
    "image/x-ms-bmp": ".bmp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/x-hwp": ".hwp",
    "application/haansofthwp": ".hwp",
    "application/vnd.hancom.hwp": ".hwp",
    "application/hwp+zip": ".hwpx",
    "application/vnd.hancom.hwpx": ".hwpx",
}
DOCUMENT_EXTENSIONS = frozenset(
    {
        ".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".webp", ".gif",
        ".docx", ".pptx", ".xlsx", ".hwp", ".hwpx",
    }
)  # fmt: skip

Resolver = Callable[[str, int], Awaitable[list[str]]]


def safe_url(url: str | httpx.URL) -> str:
    """The URL as it may be shown: no user info and no query string (they can carry tokens)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return redact(f"{parts.scheme}://{host}{parts.path}")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return bool(
        ip.is_global
        and not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast)
        and not (ip.is_reserved or ip.is_unspecified)
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver, off the event loop)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _check_host(url: httpx.URL, allow_private: bool, resolver: Resolver) -> str | None:
    """Validate one hop; returns the IP address to connect to (None: leave resolution to the transport)."""
    shown = safe_url(url)
    if url.scheme not in ("http", "https"):
        raise URLError(
            f"only http and https URLs can be fetched, not {url.scheme or 'this'}: {shown}",
            hint="Download the file yourself and pass its local path",
        )
    host = url.host
    if not host:
        raise URLError(f"the URL has no host: {shown}", hint="Pass a full http(s):// URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise URLError(
                f"cannot resolve the host {host} of {shown}",
                hint="Check the URL and the network connection",
            ) from exc
    if not addresses:
        raise URLError(f"the host {host} of {shown} has no address", hint="Check the URL")
    if allow_private:
        return None
    bad = [a for a in addresses if not is_public_address(a)]
    if bad:
        raise URLError(
            f"refusing to fetch {shown}: {host} is a private, loopback or otherwise internal address ({bad[0]})",
            hint="Fetch only public URLs, or set UPSTAGE_OCR_ALLOW_PRIVATE_URLS=1 if you trust this host",
        )
    return addresses[0]


def _pinned(url: httpx.URL, address: str | None) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """(URL to request, extra headers, request extensions) connecting to `address` but naming the host."""
    if address is None or address == url.host:
        return url, {}, {}
    host_header = url.host if url.port is None else f"{url.host}:{url.port}"
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=address), {"Host": host_header}, extensions


def _disposition_name(header: str | None) -> str | None:
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header, re.I)
    if star:
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return unquote(
                star.group(2).strip().strip('"'), encoding=star.group(1) or "utf-8", errors="strict"
            )
    plain = re.search(r'filename\s*=\s*"([^"]*)"', header, re.I) or re.search(
        r"filename\s*=\s*([^;]+)", header, re.I
    )
    return plain.group(1).strip() if plain else None


def sanitize_filename(name: str, content_type: str | None = None) -> str:
    """A safe base name: no directories, control or shell-hostile characters, a fitting extension."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w.\- ()+,@]", "_", name).strip(" .")
    name = re.sub(r"_{2,}", "_", name)
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    wanted = CONTENT_TYPE_EXTENSIONS.get(ctype)
    if wanted and ext not in DOCUMENT_EXTENSIONS:
        # No extension, or one that says nothing about the content (".php", ".aspx"): use the content's.
        ext = wanted
    elif not ext and ctype and ctype != "application/octet-stream":
        ext = mimetypes.guess_extension(ctype) or ""
    stem = (stem or "download")[: MAX_NAME_LENGTH - len(ext)]
    return f"{stem}{ext}"


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    for n in range(1, 10_000):
        candidate = path.with_name(f"{stem}-{n}{suffix}")
        if not candidate.exists():
            return candidate
    raise URLError(f"too many files named {path.name} in {path.parent}")


async def download_url(
    url: str,
    dest_dir: Path,
    *,
    allow_private: bool = False,
    max_bytes: int | None = None,
    timeout: float | None = None,
    max_redirects: int = 5,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Path:
    """Download `url` into `dest_dir` and return the new file's path.

    Raises URLError (bad scheme, internal address, HTTP error, redirect loop, too many redirects, slow or
    failed transfer) or FileTooLargeError (more than `max_bytes`). `resolver` replaces DNS in tests.
    """
    resolve = resolver or system_resolver
    max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    try:
        current = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise URLError(f"not a valid URL: {safe_url(url)}", hint="Pass a full http(s):// URL") from exc
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=dest_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with anyio.fail_after(timeout):
            final_url, content_type, disposition = await _fetch(
                current, tmp, allow_private, max_bytes, timeout, max_redirects, transport, resolve
            )
    except TimeoutError as exc:
        tmp.unlink(missing_ok=True)
        raise URLError(
            f"fetching {safe_url(url)} took longer than {timeout:g} s",
            hint="Retry later, or download the file yourself and pass its local path",
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    raw_name = _disposition_name(disposition) or unquote(final_url.path.rsplit("/", 1)[-1])
    target = _unique(dest_dir / sanitize_filename(raw_name, content_type))
    os.replace(tmp, target)
    log.info("downloaded %s to %s (%d bytes)", safe_url(final_url), target, target.stat().st_size)
    return target


async def _fetch(
    url: httpx.URL,
    tmp: Path,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    max_redirects: int,
    transport: httpx.AsyncBaseTransport | None,
    resolve: Resolver,
) -> tuple[httpx.URL, str | None, str | None]:
    seen: set[str] = set()
    headers = {"User-Agent": f"upstage-ocr/{__version__}", "Accept": "*/*"}
    async with httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    ) as client:
        for _hop in range(max_redirects + 1):
            seen.add(str(url))
            address = await _check_host(url, allow_private, resolve)
            target, extra, extensions = _pinned(url, address)
            request = client.build_request("GET", target, headers={**headers, **extra}, extensions=extensions)
            try:
                response = await client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise URLError(
                    f"fetching {safe_url(url)} timed out", hint="Retry later, or pass a local file"
                ) from exc
            except httpx.HTTPError as exc:
                raise URLError(
                    f"could not fetch {safe_url(url)}: {type(exc).__name__}",
                    hint="Check the URL and the network connection",
                ) from exc
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise URLError(f"{safe_url(url)} redirects without a Location header")
                    nxt = httpx.URL(urljoin(str(url), location))
                    if str(nxt) in seen:
                        raise URLError(
                            f"{safe_url(url)} redirects in a loop", hint="Check the URL in a browser"
                        )
                    url = nxt
                    continue
                if response.status_code >= 400:
                    raise URLError(
                        f"{safe_url(url)} answered status={response.status_code}",
                        hint="Check that the URL is public and still valid",
                        status=response.status_code,
                    )
                await _stream_to(response, url, tmp, max_bytes)
                return url, response.headers.get("content-type"), response.headers.get("content-disposition")
            finally:
                await response.aclose()
    raise URLError(
        f"too many redirects (more than {max_redirects}) starting from {safe_url(url)}",
        hint="Pass the final URL, or download the file yourself",
    )


async def _stream_to(response: httpx.Response, url: httpx.URL, tmp: Path, max_bytes: int) -> None:
    too_big = FileTooLargeError(
        f"{safe_url(url)} is larger than {max_bytes / (1024 * 1024):g} MB",
        hint="Download it yourself and pass selected pages, or a smaller file",
    )
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    total = 0
    with tmp.open("wb") as fh:
        async for chunk in response.aiter_bytes(CHUNK_SIZE):
            total += len(chunk)
            if total > max_bytes:
                raise too_big
            fh.write(chunk)
    if total == 0:
        raise URLError(f"{safe_url(url)} returned an empty body", hint="Check the URL in a browser")
