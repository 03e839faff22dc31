"""Benchmark the embedded engines on a labelled page set, side by side, in one run.

    python bench/local_engine.py [--quick]

For each category (English prose, receipts, Korean prose, mixed Korean/English, Korean web and product
graphics (`_korean_graphics.py`: short lines, coloured backgrounds, large type), Chinese and Japanese prose,
two-column English read column by column, and a born-digital PDF of English prose, which `ours` reads from
its text layer) it prints pages/s and character
error rate (Levenshtein distance over the truth length, whitespace collapsed; also with spaces ignored, which
tells missed or extra word breaks from misread characters) for
  (a) `ours`: the category's pages as one multi-page TIFF through upstage_ocr.jobs.local_backend.run_local_pages (the page
      pool a CLI/MCP job runs: two single-threaded engine instances taking pages from a queue on 2 cores)
      with the `local` engine and NO language hint (what users get by default; Korean is found on the page
      by itself); pages/s is the category's pages over the pool's wall time,
  (b) `ours-ko-hint`, `ours-zh-hint`, `ours-ja-hint`: the same with lang="ko" (Korean and mixed pages),
      "zh" (Chinese) or "ja" (Japanese),
  (c) RapidOCR called directly on the same images (use_cls off, no orientation or reading-order work),
  (d) Tesseract (the `tesseract` binary, -l eng / kor+eng / chi_sim / jpn, default page segmentation) as it runs out of
      the box: Debian builds it with OpenMP, so it uses every core,
  (e) the same with OMP_THREAD_LIMIT=1 (one thread; on 2 cores this was 2.7x faster than (d) on some machines,
      the OpenMP threads spin; upstage-ocr's own Tesseract engine runs it this way),
  (f) on pages without Hangul, our `--engine tesseract` (tesserocr in process when installed, one thread),
and the time ratio ours / direct RapidOCR and the throughput ratio ours / Tesseract (both ways).
Other processes on the machine change pages/s: compare runs made back to back. The load average is printed
before and after; `CPU s/page` (this process and its children, user + system) is what each page cost in CPU
whatever else ran: on an idle machine one-thread Tesseract does 1 / its CPU s/page pages a second, and our
two-worker pool up to 2 / ours on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

import anyio
from _labelled import LabelledPage, build, collapse

from upstage_ocr import models
from upstage_ocr.engines.builtin import shared_local
from upstage_ocr.inputs.documents import inspect_document
from upstage_ocr.jobs.local_backend import recognize_page, run_local_pages

ORDER = [
    "english",
    "receipt",
    "korean",
    "mixed",
    "ko-graphic",
    "chinese",
    "japanese",
    "twocolumn",
    "born-digital",
]
BORN_DIGITAL_PAGES = 9  # pages of the born-digital PDF (bench/textlayer.py's document, DOCX -> LibreOffice)
# the language hint of the `ours-<hint>-hint` run, and Tesseract's languages, per category
HINT = {"korean": "ko", "mixed": "ko", "ko-graphic": "ko", "chinese": "zh", "japanese": "ja"}
TESS_LANG = {
    "korean": "kor+eng",
    "mixed": "kor+eng",
    "ko-graphic": "kor+eng",
    "chinese": "chi_sim",
    "japanese": "jpn",
}


def cer(truth: str, text: str) -> float:
    t, h = collapse(truth), collapse(text)
    return Levenshtein.distance(t, h) / max(1, len(t))


def tesseract_cli(img, lang: str, one_thread: bool = False) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1") if one_thread else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.png"
        img.save(path)
        out = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", lang], capture_output=True, check=True, env=env
        )
    return out.stdout.decode("utf-8", "replace")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the `tesseract` runs)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pooled(images: list, lang: str | None, document: Path | None = None) -> tuple[float, list[str]]:
    """`images` as one multi-page TIFF (or `document`, a PDF of those pages, read with `ocr="auto"`: its
    trusted text layer instead of OCR) through the local page pool: (wall seconds, text of each page)."""
    texts: dict[int, str] = {}

    async def on_pages(pages) -> None:
        texts.update((number, models.as_page(page).text) for number, page in pages)

    with tempfile.TemporaryDirectory() as tmp:
        path = document or Path(tmp) / "pages.tiff"
        if document is None:
            images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_lzw")
        info = inspect_document(path)
        run = functools.partial(
            run_local_pages,
            info,
            list(range(1, len(images) + 1)),
            engine_name="local",
            lang=lang,
            on_pages=on_pages,
            ocr="auto",
        )
        t0 = time.perf_counter()
        anyio.run(run)
        seconds = time.perf_counter() - t0
    return seconds, [texts[i + 1] for i in range(len(images))]


def born_digital(work: Path, pages: int) -> tuple[Path, list[LabelledPage]]:
    """bench/textlayer.py's born-digital PDF (English prose with figures, DOCX -> LibreOffice) and its pages
    rendered as OCR sees them (150 DPI), labelled with the text each page was made from."""
    from textlayer import make_document

    from upstage_ocr.inputs.pdf_pages import iter_pdf

    pdf, truth = make_document(work, pages)
    renders = [img for _n, img in iter_pdf(pdf, list(range(1, pages + 1)), 150, pdf.name)]
    labelled = [
        LabelledPage(f"born-digital-{i + 1}", "born-digital", "en", text, img)
        for i, (text, img) in enumerate(zip(truth, renders, strict=True))
    ]
    return pdf, labelled


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 pages per category (a few minutes)")
    parser.add_argument("--only", default="", help="comma-separated categories to run (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many pages per category")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        run_all(args, Path(work))


def run_all(args: argparse.Namespace, work: Path) -> None:
    pages: list[LabelledPage] = build(quick=args.quick)
    document = None
    if not args.only or "born-digital" in args.only.split(","):
        from upstage_ocr.inputs.office import find_soffice

        if find_soffice() is None:
            print("born-digital: skipped (LibreOffice makes its PDF; soffice not found)", file=sys.stderr)
        else:
            document, digital = born_digital(work, 3 if args.quick else BORN_DIGITAL_PAGES)
            pages += digital
    if args.only:
        pages = [p for p in pages if p.category in args.only.split(",")]
    if args.limit:
        pages = [
            p for p in pages if sum(q.category == p.category for q in pages[: pages.index(p)]) < args.limit
        ]
    local = shared_local()
    from rapidocr import RapidOCR

    direct = RapidOCR(params={"Global.use_cls": False, "Global.log_level": "error"})
    warm = pages[0].image
    direct(np.asarray(warm))
    pooled([warm, warm], None)  # loads every pool instance's models outside the timings
    local.recognize(warm, "ko")  # loads Tesseract's Korean model outside the timings
    has_tess = subprocess.run(["which", "tesseract"], capture_output=True).returncode == 0
    tess_engine = None
    if has_tess:
        from upstage_ocr.engines.base import get_engine

        tess_engine = get_engine("tesseract")
        tess_engine.recognize(warm, "en")

    # (category, system) -> [seconds, errors, truth chars, pages, errors with spaces ignored, truth chars then,
    # CPU seconds]
    stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * 7)
    load_before = os.getloadavg()
    clock = [time.perf_counter(), cpu_seconds()]

    def record(category: str, system: str, seconds: float, truth: str, text: str, cpu: float = -1.0) -> None:
        s = stats[(category, system)]
        t = collapse(truth)
        now = [time.perf_counter(), cpu_seconds()]
        s[6] += cpu if cpu >= 0 else now[1] - clock[1]
        clock[:] = now
        s[0] += seconds
        s[1] += Levenshtein.distance(t, collapse(text))
        s[2] += len(t)
        s[3] += 1
        bare_t, bare_h = t.replace(" ", ""), collapse(text).replace(" ", "")
        s[4] += Levenshtein.distance(bare_t, bare_h)
        s[5] += len(bare_t)

    ours_text: dict[int, str] = {}  # by page object: names repeat (a font, size and variant come round again)
    for category in ORDER:
        group = [p for p in pages if p.category == category]
        hints: list[tuple[str, str | None]] = [("ours", None)]
        if category in HINT:
            hints.append((f"ours-{HINT[category]}-hint", HINT[category]))
        for system, hint in hints if group else []:
            cpu0 = cpu_seconds()
            pdf = document if category == "born-digital" else None
            seconds, texts = pooled([p.image for p in group], hint, pdf)
            cpu = (cpu_seconds() - cpu0) / len(group)
            for page, text in zip(group, texts, strict=True):
                record(category, system, seconds / len(group), page.truth, text, cpu)
                if hint is None:
                    ours_text[id(page)] = text

    for page in pages:
        img = page.image
        hangul = HINT.get(page.category) == "ko"
        tess_lang = TESS_LANG.get(page.category, "eng")
        ours = ours_text.get(id(page), "")
        clock[:] = [time.perf_counter(), cpu_seconds()]
        t0 = time.perf_counter()
        res = direct(np.asarray(img))
        text = "\n".join(getattr(res, "txts", None) or ())
        record(page.category, "rapidocr-direct", time.perf_counter() - t0, page.truth, text)
        if has_tess:
            t0 = time.perf_counter()
            text = tesseract_cli(img, tess_lang)
            record(page.category, "tesseract", time.perf_counter() - t0, page.truth, text)
            t0 = time.perf_counter()
            text = tesseract_cli(img, tess_lang, one_thread=True)
            record(page.category, "tesseract-1thread", time.perf_counter() - t0, page.truth, text)
        if tess_engine is not None and not hangul:
            t0 = time.perf_counter()
            text = recognize_page(tess_engine, img, 0, HINT.get(page.category, "en")).text
            record(page.category, "ours --engine tesseract", time.perf_counter() - t0, page.truth, text)
        print(f"  {page.name:44s} ours CER {cer(page.truth, ours):6.2%}", file=sys.stderr, flush=True)

    load_after = os.getloadavg()
    print(
        f"\nlocal engine benchmark: {len(pages)} pages ({'quick' if args.quick else 'full'}), "
        f"{os.cpu_count()} CPU cores, pages 1240x1754 (A4 @ 150 DPI); load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} before, {'/'.join(f'{x:.1f}' for x in load_after)} after\n"
    )
    print(f"| {'category':12s} | {'system':23s} | pages/s | CPU s/page | CER    | CER w/o spaces | pages |")
    print(f"|{'-' * 14}|{'-' * 25}|---------|------------|--------|----------------|-------|")
    for (category, system), (secs, errs, chars, n, bare_errs, bare_chars, cpu) in sorted(
        stats.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0][1])
    ):
        print(
            f"| {category:12s} | {system:23s} | {n / secs:7.2f} | {cpu / n:10.2f} | {errs / chars:6.2%} "
            f"| {bare_errs / max(1, bare_chars):14.2%} | {int(n):5d} |"
        )
    print()
    for category in ORDER:
        ours_s, direct_s = stats.get((category, "ours")), stats.get((category, "rapidocr-direct"))
        if ours_s and direct_s:
            summary = f"{category}: ours/direct time = {ours_s[0] / direct_s[0]:.3f}"
            for system in ("tesseract", "tesseract-1thread"):
                tess = stats.get((category, system))
                if tess:
                    ratio = (ours_s[3] / ours_s[0]) / (tess[3] / tess[0])
                    summary += f"; ours vs {system} throughput = {ratio:.2f}x"
            tess1 = stats.get((category, "tesseract-1thread"))
            if tess1:
                summary += f"; Tesseract-1thread CPU per page / ours = {tess1[6] / ours_s[6]:.2f}"
            print(summary)


if __name__ == "__main__":
    main()
