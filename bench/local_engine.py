"""Benchmark the embedded engines on a labelled page set, side by side, in one run.

    python bench/local_engine.py [--quick]

For each category (English prose, receipts, Korean prose, mixed Korean/English) it prints pages/s and character
error rate (Levenshtein distance over the truth length, whitespace collapsed) for
  (a) `ours`: upstage_ocr.local.recognize_page with the `local` engine and NO language hint (what users get
      by default; Korean is found on the page by itself),
  (b) `ours-ko-hint`: the same with lang="ko" (Korean and mixed pages only),
  (c) RapidOCR called directly on the same images (use_cls off, no orientation or reading-order work),
  (d) Tesseract (the `tesseract` binary, -l eng / -l kor+eng, default page segmentation),
and the time ratio ours / direct RapidOCR and the throughput ratio ours / Tesseract.
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

ORDER = ["english", "receipt", "korean", "mixed"]


def cer(truth: str, text: str) -> float:
    t, h = collapse(truth), collapse(text)
    return Levenshtein.distance(t, h) / max(1, len(t))


def tesseract_cli(img, lang: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.png"
        img.save(path)
        out = subprocess.run(["tesseract", str(path), "stdout", "-l", lang], capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 pages per category (a few minutes)")
    parser.add_argument("--only", default="", help="comma-separated categories to run (default: all)")
    args = parser.parse_args()

    pages: list[LabelledPage] = build(quick=args.quick)
    if args.only:
        pages = [p for p in pages if p.category in args.only.split(",")]
    local = shared_local()
    from rapidocr import RapidOCR

    direct = RapidOCR(params={"Global.use_cls": False, "Global.log_level": "error"})
    warm = pages[0].image
    direct(np.asarray(warm))
    local.recognize(warm)
    local.recognize(warm, "ko")  # loads Tesseract's Korean model outside the timings
    has_tess = subprocess.run(["which", "tesseract"], capture_output=True).returncode == 0

    # (category, system) -> [seconds, errors, truth chars, pages]
    stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])

    def record(category: str, system: str, seconds: float, truth: str, text: str) -> None:
        s = stats[(category, system)]
        t = collapse(truth)
        s[0] += seconds
        s[1] += Levenshtein.distance(t, collapse(text))
        s[2] += len(t)
        s[3] += 1

    for page in pages:
        img = page.image
        hangul = page.category in ("korean", "mixed")
        t0 = time.perf_counter()
        ours = recognize_page(local, img, 0, None).text
        record(page.category, "ours", time.perf_counter() - t0, page.truth, ours)
        t0 = time.perf_counter()
        res = direct(np.asarray(img))
        text = "\n".join(getattr(res, "txts", None) or ())
        record(page.category, "rapidocr-direct", time.perf_counter() - t0, page.truth, text)
        if hangul:
            t0 = time.perf_counter()
            text = recognize_page(local, img, 0, "ko").text
            record(page.category, "ours-ko-hint", time.perf_counter() - t0, page.truth, text)
        if has_tess:
            t0 = time.perf_counter()
            text = tesseract_cli(img, "kor+eng" if hangul else "eng")
            record(page.category, "tesseract", time.perf_counter() - t0, page.truth, text)
        print(f"  {page.name:44s} ours CER {cer(page.truth, ours):6.2%}", file=sys.stderr, flush=True)

    print(
        f"\nlocal engine benchmark: {len(pages)} pages ({'quick' if args.quick else 'full'}), "
        f"{os.cpu_count()} CPU cores, pages 1240x1754 (A4 @ 150 DPI)\n"
    )
    print(f"| {'category':9s} | {'system':16s} | pages/s | CER    | pages |")
    print(f"|{'-' * 11}|{'-' * 18}|---------|--------|-------|")
    for (category, system), (secs, errs, chars, n) in sorted(
        stats.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0][1])
    ):
        print(f"| {category:9s} | {system:16s} | {n / secs:7.2f} | {errs / chars:6.2%} | {int(n):5d} |")
    print()
    for category in ("english", "receipt", "korean", "mixed"):
        ours_s, direct_s = stats.get((category, "ours")), stats.get((category, "rapidocr-direct"))
        tess = stats.get((category, "tesseract"))
        if ours_s and direct_s:
            summary = f"{category}: ours/direct time = {ours_s[0] / direct_s[0]:.3f}"
            if tess:
                summary += (
                    f"; ours vs tesseract throughput = {(ours_s[3] / ours_s[0]) / (tess[3] / tess[0]):.2f}x"
                )
            print(summary)


if __name__ == "__main__":
    main()
