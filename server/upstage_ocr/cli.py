"""The command line: arguments in, exit code out. Results (paths, JSON, text) go to stdout; logs and progress to stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import anyio

from . import __version__
from .cli_ocr import add_ocr_command, cmd_ocr
from .errors import OCRError, redact
from .settings import Settings
from .vocab import ALL_EXPORT_FORMATS

log = logging.getLogger("upstage_ocr")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one `upstage-ocr: ...` line on stderr (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"upstage-ocr: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="upstage-ocr",
        description="OCR images, scans, PDFs and office files into word-level text with boxes (Upstage OCR shape).",
    )
    p.add_argument("--version", action="version", version=f"upstage-ocr {__version__}")
    p.add_argument("--home", help="job store directory (env UPSTAGE_OCR_HOME)")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    add_ocr_command(sub)

    from .cli_parse import add_parse_parser

    add_parse_parser(sub)

    s = sub.add_parser("status", help="a job's status, pages done/total, batches and result path (JSON)")
    s.add_argument("job_id")

    f = sub.add_parser("fetch", help="pages of a job's result (text per page; --words for boxes)")
    f.add_argument("job_id")
    f.add_argument("--pages", help="e.g. 1-3 (default: all)")
    f.add_argument("--words", action="store_true", help="include words with boxes and confidences")
    f.add_argument("--json", action="store_true", help="print JSON instead of text")

    j = sub.add_parser("jobs", help="recent jobs, newest first")
    j.add_argument("--limit", type=int, default=20)
    j.add_argument("--json", action="store_true")

    e = sub.add_parser(
        "export",
        help="write a finished job as txt, md, json, csv, docx, hocr, pdf or overlay (parse jobs: md, html, "
        "json, or csv per table)",
    )
    e.add_argument("job_id")
    e.add_argument("--format", "-f", required=True, choices=ALL_EXPORT_FORMATS)
    e.add_argument("-o", "--output", help="output path or directory (default: <temp>/<stem>.<ext>)")
    e.add_argument("--pages", help="pages to export (overlay), e.g. 1-3")

    q = sub.add_parser("search", help="find a phrase in a job's result, tolerant of OCR slips; cites pages")
    q.add_argument("job_id")
    q.add_argument("query")
    q.add_argument("--limit", type=int, default=10)
    q.add_argument("--json", action="store_true")

    sub.add_parser("check", help="print each setting, where it came from, the key masked")

    v = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    v.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8765)

    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("job_ids", nargs="+")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(home=getattr(args, "home", None))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


async def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService

    async with OCRService(settings) as service:
        for job_id in args.job_ids:
            await service.run(job_id)
    return 0


def _status_json(job: Any) -> dict[str, Any]:
    from .views import job_status

    return job_status(job).model_dump(mode="json")


async def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService

    async with OCRService(settings) as service:
        _print_json(_status_json(service.get(args.job_id)))
    return 0


async def _cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService

    async with OCRService(settings) as service:
        if service.get(args.job_id).options.get("kind") == "parse":
            from .cli_parse import print_parsed_pages

            return print_parsed_pages(service, args)
        rows = list(service.iter_pages(args.job_id, args.pages, words=args.words))
        if args.json or args.words:
            from .views import page_view

            out = []
            for idx, number, page in rows:
                item = page_view(idx, number, page, words=False).model_dump(mode="json", exclude={"words"})
                if args.words:  # the words as the result file has them (Upstage's shape)
                    item["words"] = [w.model_dump(mode="json") for w in page.words]
                out.append(item)
            _print_json(out)
        else:
            for idx, _number, page in rows:
                sys.stdout.write(f"--- page {idx + 1} ---\n{page.text}\n")
    return 0


async def _cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService

    async with OCRService(settings) as service:
        jobs = service.list_jobs(args.limit)
        if args.json:
            _print_json([_status_json(service.get(j.id)) for j in jobs])
        else:
            for j in jobs:
                sys.stdout.write(
                    f"{j.id}  {j.status:<9}  {j.pages_done}/{j.pages_total if j.pages_total is not None else '?'}"
                    f"  {j.options.get('kind') or 'ocr':<5}  {j.engine:<9}  {j.input_name}\n"
                )
    return 0


async def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService
    from .output.job_exports import export_job

    async with OCRService(settings) as service:
        paths = await export_job(service, args.job_id, args.format, args.output, pages=args.pages)
        for path in paths:
            sys.stdout.write(f"{path}\n")
    return 0


async def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.service import OCRService
    from .output.job_exports import search_job

    async with OCRService(settings) as service:
        hits = search_job(service, args.job_id, args.query, limit=args.limit)
        if args.json:
            _print_json([h.model_dump(mode="json") for h in hits])
        else:
            for h in hits:
                sys.stdout.write(f"page {h.page}  score {h.score:.0f}  conf {h.confidence:.2f}  {h.line}\n")
            if not hits:
                sys.stderr.write("no matches\n")
    return 0 if hits else 1


def _cmd_check(settings: Settings) -> int:
    rows = settings.describe()
    width = max(len(r[0]) for r in rows)
    for var, shown, source, _desc in rows:
        sys.stdout.write(f"{var:<{width}}  {shown}  [{source}]\n")
    sys.stdout.write(f"{'store':<{width}}  {settings.home / 'jobs.sqlite3'}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,  # the one-line error below says it all
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = _settings(args)
        if args.command == "check":
            return _cmd_check(settings)
        if args.command == "serve":
            from .mcp_server import serve

            serve(settings, http=args.http, host=args.host, port=args.port)
            return 0
        from .cli_parse import cmd_parse

        handlers = {
            "ocr": cmd_ocr,
            "parse": cmd_parse,
            "status": _cmd_status,
            "fetch": _cmd_fetch,
            "jobs": _cmd_jobs,
            "export": _cmd_export,
            "search": _cmd_search,
            "worker": _cmd_worker,
        }
        return int(anyio.run(handlers[args.command], args, settings))
    except OCRError as exc:
        sys.stderr.write(f"upstage-ocr: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(
            "upstage-ocr: interrupted; finished pages are kept, run the same command to resume\n"
        )
        return 130
    except Exception as exc:  # the last line of defence: one line, no traceback, no secret
        if args.verbose:
            log.exception("unexpected error")
        sys.stderr.write(
            f"upstage-ocr: internal error: {redact(f'{type(exc).__name__}: {exc}')} (rerun with -v)\n"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
