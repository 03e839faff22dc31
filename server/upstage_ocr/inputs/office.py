"""Office inputs (DOCX, PPTX, XLSX, HWP, HWPX): converted to PDF by LibreOffice headless, once per content.

`converted_pdf` keeps each conversion under a folder named by the file's content hash, so a file submitted
again, or exported with page images later, is not converted again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, CorruptDocumentError

if TYPE_CHECKING:
    from .documents import DocumentInfo


def office_page_count(path: Path, ext: str) -> int | None:
    """Slides in a PPTX are known from its metadata; other office page counts need a conversion."""
    if ext != ".pptx":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            slides = [n for n in zf.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDocumentError(f"{path.name} is a damaged PPTX", status=422) from exc
    return len(slides) or None


LIBREOFFICE_HINT = (
    "Install LibreOffice (Debian/Ubuntu: apt-get install libreoffice-core libreoffice-writer "
    "libreoffice-calc libreoffice-impress; for HWP also libreoffice-h2orestart), "
    "or use --engine upstage, which accepts office files directly"
)


def find_soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    mac = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
    return str(mac) if mac.exists() else None


def convert_office_to_pdf(info: DocumentInfo, workdir: Path, *, timeout: float = 300.0) -> Path:
    """Convert an office file to PDF in `workdir` with LibreOffice headless; returns the PDF's path."""
    soffice = find_soffice()
    if not soffice:
        raise ConfigError(
            f"{info.name}: the local engine needs LibreOffice to read {info.extension} files",
            hint=LIBREOFFICE_HINT,
        )
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"input{info.extension}"  # a plain name: LibreOffice names its output after the input
    shutil.copyfile(info.path, src)
    profile = (workdir / "lo-profile").resolve().as_uri()
    cmd = [
        soffice,
        f"-env:UserInstallation={profile}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(workdir),
        str(src),
    ]
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CorruptDocumentError(
            f"{info.name}: LibreOffice did not finish converting it in {timeout:.0f} s"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot run LibreOffice ({soffice}): {exc}", hint=LIBREOFFICE_HINT) from exc
    out = workdir / "input.pdf"
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        detail = (proc.stderr or proc.stdout or b"").decode("utf-8", "replace").strip().splitlines()
        raise CorruptDocumentError(
            f"{info.name}: LibreOffice could not convert it to PDF"
            + (f" ({detail[-1][:200]})" if detail else ""),
            status=422,
        )
    return out


def conversion_path(cache: Path, sha256: str) -> Path:
    """Where the conversion of the office file with content hash `sha256` is kept under `cache`."""
    return cache / sha256[:24] / "input.pdf"


def converted_pdf(info: DocumentInfo, cache: Path) -> Path:
    """The PDF of an office file: converted on first use, then reused for the same content."""
    out = conversion_path(cache, info.sha256)
    if out.is_file() and out.stat().st_size > 0:
        return out
    return convert_office_to_pdf(info, out.parent)
