"""`upstage-ocr ocr`: many inputs at once, a progress bar per file on stderr, result paths on stdout in input
order; `--no-wait` hands each job to a detached worker process."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .errors import FileMissingError, JobError, OCRError, OutputPathError
from .settings import Settings
from .vocab import ENGINES, OCR_MODES, SCHEMAS

if TYPE_CHECKING:
    from .jobs.service import OCRService


SUBMIT_OPTIONS = ("engine", "model", "schema", "pages", "lang", "ocr", "output", "force", "use_async")
"""The `ocr` arguments that go to OCRService.submit under the same names."""


def add_ocr_command(sub: Any) -> None:
    o = sub.add_parser("ocr", help="OCR files; print the absolute path of each result JSON")
    o.add_argument("files", nargs="+", metavar="FILE", help="files, directories or http(s) URLs")
    o.add_argument("--engine", choices=ENGINES, help="auto (default): upstage with a key, else local")
    o.add_argument("--model", help="Upstage model: ocr (default) or a pinned version such as ocr-250904")
    o.add_argument("--schema", choices=SCHEMAS, help="write the result in the CLOVA or Google Vision shape")
    o.add_argument("--pages", help="pages to read, e.g. 1-5,8 (default: all)")
    o.add_argument("--lang", help="language hint for local engines, e.g. en, ko, kor+eng")
    o.add_argument(
        "--ocr",
        choices=OCR_MODES,
        help="local engines: auto (default) reads PDF pages with a trustworthy text layer from it, force OCRs"
        " every page (the Upstage OCR API always OCRs every page)",
    )
    o.add_argument("-o", "--output", help="result path, or a directory (default: <temp>/<stem>.ocr.json)")
    o.add_argument(
        "--no-wait", action="store_true", help="print the job id at once; the work goes on in the background"
    )
    o.add_argument(
        "--force", action="store_true", help="run again even if the same file and options were done"
    )
    o.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="upstage engine: use the async API even for documents of 100 pages or fewer",
    )
    o.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="files processed at once (default: 2 local; cloud: 4 x UPSTAGE_OCR_RATE_LIMIT, 4 to 32)",
    )
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")


async def cmd_ocr(args: argparse.Namespace, settings: Settings) -> int:
    """OCR every input (at most --jobs at once); print each result path (or job id) in input order."""
    from .jobs.service import OCRService

    inputs = _inputs(args.files, args.output)
    failures: list[OCRError] = []
    results: dict[int, str] = {}
    async with OCRService(settings) as service:
        cloud = service.resolve_engine(args.engine) == "upstage"
        limit = anyio.Semaphore(args.jobs or default_jobs(cloud, settings))

        async def one(i: int, item: str) -> None:
            async with limit:
                try:
                    results[i] = await _ocr_one(service, item, args, settings)
                except OCRError as exc:
                    failures.append(exc)
                    sys.stderr.write(
                        f"upstage-ocr: {item}: {exc}\n" if len(inputs) > 1 else f"upstage-ocr: {exc}\n"
                    )

        async with anyio.create_task_group() as tg:
            for i, item in enumerate(inputs):
                tg.start_soon(one, i, item)
    for i in sorted(results):
        sys.stdout.write(results[i] + "\n")
    return failures[0].exit_code if failures else 0


async def _ocr_one(service: OCRService, item: str, args: argparse.Namespace, settings: Settings) -> str:
    """One input: its result path, or with --no-wait its job id (the work goes on in a worker process)."""
    bar = _Bar(Path(item).name, not args.quiet and not args.no_wait)
    try:
        sub = await service.submit(item, **{name: getattr(args, name) for name in SUBMIT_OPTIONS})
        if args.no_wait:
            if not sub.job.finished:
                _spawn_worker(sub.job.id, settings)
            return sub.job.id
        job = await service.run(sub.job.id, bar)
        if job.status != "completed":
            raise _job_failure(item, job.error, job.error_code)
        return str(job.result_path)
    finally:
        bar.close()


CLOUD_SECONDS_IN_FLIGHT = 4.0
"""Cloud files in flight cover this many seconds of the rate limit: a one-page sync call takes about 2 s, so
fewer than rate x 2 s in flight leave the limit unused (4 in flight at 3 requests/s ran 200 scans 1.5x slower
than the limit allows; see bench/cloud.py). The client's rate limiter paces the requests, not this number."""


def default_jobs(cloud: bool, settings: Settings) -> int:
    """Files processed at once when --jobs is not given: 2 on a local engine; on the cloud enough requests in
    flight for the rate limit, not the latency, to be the bound."""
    if not cloud:
        return 2
    return max(4, min(32, math.ceil(settings.rate_limit * CLOUD_SECONDS_IN_FLIGHT)))


def _job_failure(item: str, message: str | None, code: str | None) -> OCRError:
    """The failed job's error as its own class (so the exit code says what went wrong), JobError if unknown."""
    classes: dict[str, type[OCRError]] = {}
    todo: list[type[OCRError]] = [OCRError]
    while todo:
        cls = todo.pop()
        classes.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    cls = classes.get(code or "", JobError)
    return (cls if cls is not OCRError else JobError)(f"{item}: {message or 'the job did not complete'}")


def _spawn_worker(job_id: str, settings: Settings) -> None:
    """Work the job in a detached process so `--no-wait` returns at once and the job still finishes."""
    env = dict(os.environ)
    env["UPSTAGE_OCR_HOME"] = str(settings.home)
    log_path = settings.home / "worker.log"
    with open(log_path, "ab") as logf:
        subprocess.Popen(
            [sys.executable, "-m", "upstage_ocr", "worker", job_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=logf,
            env=env,
            start_new_session=True,
        )


def _inputs(files: Sequence[str], output: str | None) -> list[str]:
    """The files to work on (folders expanded); one-line errors for none, or several with a file `-o`."""
    inputs = _expand_inputs(files)
    if not inputs:
        raise FileMissingError(
            "no supported files found in the given directories",
            hint="Pass document files or a folder of them",
        )
    if output and len(inputs) > 1 and not Path(output).is_dir():
        raise OutputPathError("with several inputs, -o must be an existing directory")
    return inputs


def _expand_inputs(items: Sequence[str]) -> list[str]:
    from .inputs.documents import SUPPORTED_EXTENSIONS

    out: list[str] = []
    for item in items:
        path = Path(item)
        if "://" not in item and path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower().lstrip(".") in _exts(SUPPORTED_EXTENSIONS)
            )
            out.extend(str(p) for p in found)
        else:
            out.append(item)
    return out


def _exts(extensions: Any) -> set[str]:
    return {str(e).lower().lstrip(".") for e in extensions}


class _Bar:
    """Per-file progress on stderr (tqdm); silent for one-page work or when --quiet."""

    def __init__(self, name: str, enabled: bool):
        self.name = name
        self.enabled = enabled
        self.bar: Any = None

    async def __call__(self, done: int, total: int | None, message: str) -> None:
        if not self.enabled or (total is not None and total <= 1):
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.name[:30], unit="page", file=sys.stderr, leave=True)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
