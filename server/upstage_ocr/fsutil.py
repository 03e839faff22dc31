"""Writing files the safe way: atomically (temp file + rename), user-only permissions, clear output-path errors."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import OutputPathError


@contextlib.contextmanager
def atomic_open(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A handle on a temp file beside `path`; on success it replaces `path` (mode 0o600), on failure it is
    removed and the old file stays. OS errors become `OutputPathError` (a full disk says so)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputPathError(
            f"cannot write to {path.parent}: {exc.strerror or exc}",
            hint="Check that the directory exists and is writable",
        ) from exc
    try:
        if binary:
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputPathError):
            if exc.errno == errno.ENOSPC:
                raise OutputPathError(
                    f"the disk is full: could not write {path}", hint="Free some space and retry"
                ) from exc
            raise OutputPathError(f"could not write {path}: {exc.strerror or exc}") from exc
        raise


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part."""
    with atomic_open(path, binary=True) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def default_result_path(input_name: str, suffix: str = ".ocr.json") -> Path:
    """`<system temp dir>/<stem>.ocr.json`, as the CLI and the MCP server write results by default."""
    stem = Path(input_name).stem or "document"
    return Path(tempfile.gettempdir()).resolve() / f"{stem}{suffix}"


def resolve_output(
    output: str | os.PathLike[str] | None, input_name: str, input_path: Path | None, suffix: str = ".ocr.json"
) -> Path:
    """The absolute path to write a result to; refuses a missing directory or overwriting the input."""
    if output is None or str(output) == "":
        target = default_result_path(input_name, suffix)
    else:
        target = Path(output).expanduser()
        if target.is_dir():
            target = target / f"{Path(input_name).stem or 'document'}{suffix}"
        target = target.absolute()
        if not target.parent.is_dir():
            raise OutputPathError(
                f"the output directory {target.parent} does not exist",
                hint="Create it first or choose another path",
            )
    if input_path is not None:
        with contextlib.suppress(OSError):
            if target.exists() and os.path.samefile(target, input_path):
                raise OutputPathError(
                    f"the output path {target} is the input file", hint="Choose another output path"
                )
        if target.resolve() == Path(input_path).resolve():
            raise OutputPathError(
                f"the output path {target} is the input file", hint="Choose another output path"
            )
    return target
