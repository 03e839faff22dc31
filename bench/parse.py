"""Benchmark the local parse engine on pages rendered from known content.

    python bench/parse.py [--tables N] [--ocr] [--scans] [--repeat R]

Pages: the report, two-column and Korean pages of tests/parse_pages.py, plus N generated table pages (half with
a full ruled grid, half with horizontal rules only; 3-8 rows by 3-6 columns of words and numbers).
Words come from the renderer (each word's exact box, what a PDF text layer gives) and, with --ocr, also from
the local OCR engine (`local`; `local-kor` with lang "ko" on the Korean page), as the local backend gets them
for scans, and with --scans also from OCR of each page made a mediocre scan (turned 0.5 degrees, blurred,
grainy, JPEG quality 70). It prints, per word source:
  - parse speed: pages/s of `parse_page` alone (words given), the median of --repeat runs per page,
  - with --ocr, pages/s of OCR + parse together,
  - table-cell accuracy: the share of true cells whose text sits in the same row and column of the element's
    Markdown pipe table (whitespace and `.,` ignored for OCR words), and the share of tables found whole,
  - category accuracy: pages whose element categories match the expected sequence exactly.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: F401  (puts server/ and tests/ on sys.path)

from parse_pages import RenderedPage, all_pages, scanned, table_page
from upstage_ocr.parsing import parse_page


def md_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and not all(set(c) <= {"-", ":"} for c in cells):
            rows.append(cells)
    return rows


def _norm(text: str, loose: bool) -> str:
    return re.sub(r"[\s.,]", "", text) if loose else text


def score_tables(page: RenderedPage, elements: list, loose: bool) -> tuple[int, int, int, int]:
    """(cells right, cells expected, tables whole, tables expected) for one page."""
    got_tables = [md_rows(el.content.markdown) for el in elements if el.category == "table"]
    right = total = whole = 0
    for i, truth in enumerate(page.tables):
        got = got_tables[i] if i < len(got_tables) else []
        n = sum(
            1
            for r, row in enumerate(truth)
            for c, v in enumerate(row)
            if r < len(got) and c < len(got[r]) and _norm(got[r][c], loose) == _norm(v, loose)
        )
        total += sum(len(row) for row in truth)
        right += n
        whole += int(n == sum(len(row) for row in truth) and len(got) == len(truth))
    return right, total, whole, len(page.tables)


def run(pages: list[RenderedPage], source: str, repeat: int) -> None:
    words_for = {}
    ocr_s = 0.0
    for page in pages:
        if source == "ocr":
            from upstage_ocr.engines.base import get_engine
            from upstage_ocr.jobs.local_backend import recognize_page

            korean = page.name.startswith("korean")
            t = time.perf_counter()
            words_for[page.name] = recognize_page(
                get_engine("local-kor" if korean else "local"), page.image, 0, "ko" if korean else None
            ).words
            ocr_s += time.perf_counter() - t
        else:
            words_for[page.name] = page.words
    parse_s = 0.0
    cells = [0, 0, 0, 0]
    cats_ok = 0
    for page in pages:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            elements = parse_page(page.image, words_for[page.name], 1)
            times.append(time.perf_counter() - t)
        parse_s += statistics.median(times)
        for k, v in enumerate(score_tables(page, elements, loose=source == "ocr")):
            cells[k] += v
        cats_ok += [el.category for el in elements] == [e.category for e in page.expected]
    n = len(pages)
    what = "the renderer (text layer)" if source == "text" else "the local OCR engine"
    if pages[0].name.endswith("-scan"):
        what += " on scans (0.5 degrees, blur, grain, JPEG q70)"
    print(f"\n## words from {what}: {n} pages")
    print(f"parse_page alone: {n / parse_s:.1f} pages/s ({1000 * parse_s / n:.0f} ms/page)")
    if source == "ocr":
        print(
            f"OCR + parse: {n / (ocr_s + parse_s):.2f} pages/s (OCR {ocr_s / (ocr_s + parse_s):.0%} of the time)"
        )
    print(f"table cells right: {cells[0]}/{cells[1]} = {cells[0] / max(1, cells[1]):.1%}")
    print(f"tables whole: {cells[2]}/{cells[3]}")
    print(f"pages with every category right: {cats_ok}/{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=20, help="generated table pages (default 20)")
    parser.add_argument("--ocr", action="store_true", help="also read every page with the local OCR engine")
    parser.add_argument(
        "--scans",
        action="store_true",
        help="also OCR + parse every page as a scan (0.5 degrees, blur, grain, JPEG)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="parse runs per page for the timing (median)")
    args = parser.parse_args()
    pages = all_pages() + [
        table_page(seed, ("grid", "rules", "none")[seed % 3]) for seed in range(args.tables)
    ]
    print(f"# local parse benchmark: {len(pages)} pages (A4 at 150 DPI, 1240 x 1754)")
    run(pages, "text", args.repeat)
    if args.ocr:
        run(pages, "ocr", 1)
    if args.scans:
        run([scanned(p, 0.5, seed) for seed, p in enumerate(pages)], "ocr", 1)


if __name__ == "__main__":
    main()
