"""Benchmark the embedded engines on a labelled page set, side by side, in one run.

    python bench/local_engine.py [--quick]

For each category (English prose, receipts, Korean prose, mixed Korean/English, Chinese and Japanese prose,
two-column English read column by column) it prints pages/s and character
error rate (Levenshtein distance over the truth length, whitespace collapsed; also with spaces ignored, which
tells missed or extra word breaks from misread characters) for
  (a) `ours`: upstage_ocr.local.recognize_page with the `local` engine and NO language hint (what users get
      by default; Korean is found on the page by itself),
  (b) `ours-ko-hint`, `ours-zh-hint`, `ours-ja-hint`: the same with lang="ko" (Korean and mixed pages),
      "zh" (Chinese) or "ja" (Japanese),
  (c) RapidOCR called directly on the same images (use_cls off, no orientation or reading-order work),
  (d) Tesseract (the `tesseract` binary, -l eng / kor+eng / chi_sim / jpn, default page segmentation) as it runs out of
      the box: Debian builds it with OpenMP, so it uses every core,
  (e) the same with OMP_THREAD_LIMIT=1 (one thread; on 2 cores this was 2.7x faster than (d) on some machines,
      the OpenMP threads spin; upstage-ocr's own Tesseract engine runs it this way),
  (f) on pages without Hangul, our `--engine tesseract` (tesserocr in process when installed, one thread),
and the time ratio ours / direct RapidOCR and the throughput ratio ours / Tesseract (both ways).
Other processes on the machine change pages/s: compare runs made back to back.
"""

from __future__ import annotations

import argparse
import os
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

from _labelled import LabelledPage, build, collapse

from upstage_ocr.engines.builtin import shared_local
from upstage_ocr.local import recognize_page

ORDER = ["english", "receipt", "korean", "mixed", "chinese", "japanese", "twocolumn"]
# the language hint of the `ours-<hint>-hint` run, and Tesseract's languages, per category
HINT = {"korean": "ko", "mixed": "ko", "chinese": "zh", "japanese": "ja"}
TESS_LANG = {"korean": "kor+eng", "mixed": "kor+eng", "chinese": "chi_sim", "japanese": "jpn"}


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 pages per category (a few minutes)")
    parser.add_argument("--only", default="", help="comma-separated categories to run (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many pages per category")
    args = parser.parse_args()

    pages: list[LabelledPage] = build(quick=args.quick)
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
    local.recognize(warm)
    local.recognize(warm, "ko")  # loads Tesseract's Korean model outside the timings
    has_tess = subprocess.run(["which", "tesseract"], capture_output=True).returncode == 0
    tess_engine = None
    if has_tess:
        from upstage_ocr.engines.base import get_engine

        tess_engine = get_engine("tesseract")
        tess_engine.recognize(warm, "en")

    # (category, system) -> [seconds, errors, truth chars, pages, errors with spaces ignored, truth chars then]
    stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * 6)

    def record(category: str, system: str, seconds: float, truth: str, text: str) -> None:
        s = stats[(category, system)]
        t = collapse(truth)
        s[0] += seconds
        s[1] += Levenshtein.distance(t, collapse(text))
        s[2] += len(t)
        s[3] += 1
        bare_t, bare_h = t.replace(" ", ""), collapse(text).replace(" ", "")
        s[4] += Levenshtein.distance(bare_t, bare_h)
        s[5] += len(bare_t)

    for page in pages:
        img = page.image
        hangul = page.category in ("korean", "mixed")
        tess_lang = TESS_LANG.get(page.category, "eng")
        t0 = time.perf_counter()
        ours = recognize_page(local, img, 0, None).text
        record(page.category, "ours", time.perf_counter() - t0, page.truth, ours)
        t0 = time.perf_counter()
        res = direct(np.asarray(img))
        text = "\n".join(getattr(res, "txts", None) or ())
        record(page.category, "rapidocr-direct", time.perf_counter() - t0, page.truth, text)
        if page.category in HINT:
            t0 = time.perf_counter()
            text = recognize_page(local, img, 0, HINT[page.category]).text
            record(
                page.category, f"ours-{HINT[page.category]}-hint", time.perf_counter() - t0, page.truth, text
            )
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

    print(
        f"\nlocal engine benchmark: {len(pages)} pages ({'quick' if args.quick else 'full'}), "
        f"{os.cpu_count()} CPU cores, pages 1240x1754 (A4 @ 150 DPI)\n"
    )
    print(f"| {'category':9s} | {'system':23s} | pages/s | CER    | CER w/o spaces | pages |")
    print(f"|{'-' * 11}|{'-' * 25}|---------|--------|----------------|-------|")
    for (category, system), (secs, errs, chars, n, bare_errs, bare_chars) in sorted(
        stats.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0][1])
    ):
        print(
            f"| {category:9s} | {system:23s} | {n / secs:7.2f} | {errs / chars:6.2%} "
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
            print(summary)


if __name__ == "__main__":
    main()
