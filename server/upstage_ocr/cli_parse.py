"""`upstage-ocr parse FILE...`: Document Parse from the command line.

Each file's result JSON goes to `<temp>/<stem>.parse.json` (or `-o`) and its absolute path is printed. With
`--format markdown|html|text` just that content is printed, or written to `-o` (whose path is printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import _print_json
from .cli_ocr import _Bar, _inputs, _job_failure
from .errors import OCRError
from .fsutil import atomic_write_text, resolve_output
from .parse_models import CATEGORIES, OUTPUT_FORMATS
from .settings import Settings
from .vocab import ENGINES, OCR_MODES

if TYPE_CHECKING:
    from .jobs.service import OCRService

CONTENT_SUFFIXES = {"markdown": ".md", "html": ".html", "text": ".txt"}


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_parse_parser(sub: Any) -> None:
    p = sub.add_parser(
        "parse",
        help="parse files into layout elements, tables and Markdown; print the path of each result JSON",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files, directories or http(s) URLs")
    p.add_argument("--engine", choices=ENGINES, help="auto (default): upstage with a key, else local")
    p.add_argument("--pages", help="pages to parse, e.g. 1-5,8 (default: all)")
    p.add_argument(
        "--format",
        choices=OUTPUT_FORMATS[::-1],
        help="print just this content (or write it to -o) instead of the result JSON's path",
    )
    p.add_argument(
        "--output-formats",
        type=_csv,
        help=f"content formats to produce, comma-separated (default: {','.join(OUTPUT_FORMATS)})",
    )
    p.add_argument("--ocr", choices=OCR_MODES, default="auto", help="force: OCR every page")
    p.add_argument("--mode", choices=("standard", "enhanced", "auto"), default="standard", help="upstage")
    p.add_argument("--no-chart-recognition", action="store_true", help="upstage: keep charts as figures")
    p.add_argument("--merge-multipage-tables", action="store_true", help="upstage: join split tables")
    p.add_argument(
        "--base64",
        type=_csv,
        default=[],
        help=f"upstage: crops of these categories as base64 ({CATEGORIES[1]},...)",
    )
    p.add_argument("--model", help="Upstage model: document-parse (default) or a pinned version")
    p.add_argument("--lang", help="language hint for local OCR, e.g. en, ko")
    p.add_argument("-o", "--output", help="result path, or a directory (default: <temp>/<stem>.parse.json)")
    p.add_argument(
        "--force", action="store_true", help="run again even if the same file and options were done"
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def print_parsed_pages(service: OCRService, args: argparse.Namespace) -> int:
    """`upstage-ocr fetch JOB` of a parse job: each page's Markdown (`--json`: pages with their elements)."""
    from .parse_views import fetch_parse_pages

    job = service.get(args.job_id)
    total = job.pages_total if job.pages_total is not None else job.pages_done
    spec = args.pages or (f"1-{total}" if total else None)  # every page unless a range is given
    view = fetch_parse_pages(service, args.job_id, spec, "markdown", include_elements=args.json)
    if args.json:
        _print_json([p.model_dump(mode="json") for p in view.pages])
    else:
        for p in view.pages:
            sys.stdout.write(f"--- page {p.page} ---\n{p.content}\n")
    return 0


async def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs.parse_service import DEFAULT_FORMATS, parse_result, submit_parse
    from .jobs.service import OCRService
    from .upstage.parse import ParseOptions

    inputs = _inputs(args.files, args.output)
    several = len(inputs) > 1
    options = ParseOptions(
        output_formats=tuple(args.output_formats or DEFAULT_FORMATS),
        ocr=args.ocr,
        mode=args.mode,
        chart_recognition=not args.no_chart_recognition,
        merge_multipage_tables=args.merge_multipage_tables,
        base64_encoding=tuple(args.base64),
    )
    if args.format and args.format not in options.output_formats:
        options = ParseOptions(
            **{**options.identity(), "output_formats": (*options.output_formats, args.format)}
        )
    failures: list[OCRError] = []
    async with OCRService(settings) as service:
        for item in inputs:
            bar = _Bar(Path(item).name, not args.quiet)
            try:
                content_out = args.output if args.format else None
                sub = await submit_parse(
                    service,
                    item,
                    engine=args.engine,
                    pages=args.pages,
                    options=options,
                    model=args.model,
                    lang=args.lang,
                    output=None if args.format else args.output,
                    force=args.force,
                )
                job = await service.run(sub.job.id, bar)
                if job.status != "completed":
                    raise _job_failure(item, job.error, job.error_code)
                if not args.format:
                    sys.stdout.write(f"{job.result_path}\n")
                    continue
                text = str(getattr(parse_result(service, job.id).content, args.format))
                if content_out:
                    target = resolve_output(
                        content_out, job.input_name, Path(job.input_path), CONTENT_SUFFIXES[args.format]
                    )
                    atomic_write_text(target, text + "\n")
                    sys.stdout.write(f"{target}\n")
                else:
                    header = f"==> {item} <==\n" if several else ""
                    sys.stdout.write(f"{header}{text}\n")
            except OCRError as exc:
                failures.append(exc)
                sys.stderr.write(f"upstage-ocr: {item}: {exc}\n" if several else f"upstage-ocr: {exc}\n")
            finally:
                bar.close()
    return failures[0].exit_code if failures else 0
