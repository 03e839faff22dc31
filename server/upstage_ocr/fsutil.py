"""Writing files the safe way: atomically (temp file + rename), user-only permissions, clear output-path errors."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from .errors import OutputPathError


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.errno == errno.ENOSPC:
            raise OutputPathError(
                f"the disk is full: could not write {path}", hint="Free some space and retry"
            ) from exc
        raise OutputPathError(f"could not write {path}: {exc.strerror or exc}") from exc
    return path


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


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
