"""Benchmark the text layer of born-digital PDFs: `--ocr auto` against `--ocr force`, side by side in one run.

    python bench/textlayer.py              # a 50-page born-digital PDF, both modes on the real local engine
    python bench/textlayer.py --pages 3    # quick

The document is what users have most: a DOCX of English prose (numbers, prices, dates, punctuation) that
LibreOffice turns into a PDF with embedded TrueType subsets, so every page has a real text layer. Both runs
go through `OCRService` (submit + run, each in a fresh job store) with the `local` engine, after a one-page
warm-up job in each mode, so that neither is charged with what a process does once (loading the models,
importing its code). Printed per mode: wall seconds, pages/s,
pages read from the text layer, and the character error rate of each page's text against the text the page
was made from (Levenshtein distance over the truth length, mean over pages; whitespace collapsed, and with
spaces ignored: where LibreOffice wraps a line inside a token such as "2026-05-|06", the page shows two words
and both modes rightly read them as two), plus the speed ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

import anyio
from _common import machine, table, workdir
from _labelled import collapse
from rapidfuzz.distance import Levenshtein

TEXT = (
    "the board approved a revised budget for the northern region after reviewing quarterly sales figures "
    "and customer feedback while shipping costs rose sharply in March so the team proposed new suppliers "
    "contracts were signed with two vendors and the warehouse will move to a larger site next year"
)
WORDS = TEXT.split(" ")


def page_paragraphs(rng: random.Random, number: int, pages: int) -> list[str]:
    """One page of prose: a heading and four paragraphs with figures, dates and prices."""
    paragraphs = [f"Section {number} of {pages}: operations report"]
    for _ in range(4):
        sentences = []
        for _ in range(rng.randint(3, 4)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(9, 14))]
            words[0] = words[0].capitalize()
            figure = rng.choice(
                [
                    f"${rng.randint(1, 999)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
                    f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%",
                    f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"(INV-{rng.randint(1000, 9999)})",
                ]
            )
            words.insert(rng.randint(1, len(words) - 1), figure)
            sentences.append(" ".join(words) + rng.choice([".", ".", ";", "!"]))
        paragraphs.append(" ".join(sentences))
    return paragraphs


def make_document(work: Path, pages: int) -> tuple[Path, list[str]]:
    """A born-digital PDF of `pages` pages (DOCX -> LibreOffice) and each page's source text."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Pt

    from upstage_ocr.inputs import documents, office

    rng = random.Random(13)
    doc = Document()
    truth = []
    for n in range(1, pages + 1):
        paragraphs = page_paragraphs(rng, n, pages)
        truth.append("\n".join(paragraphs))
        for i, text in enumerate(paragraphs):
            run = doc.add_paragraph().add_run(text)
            run.font.size = Pt(14 if i == 0 else 11)
            run.font.bold = i == 0
        if n < pages:
            doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    src = work / "report.docx"
    doc.save(src)
    info = documents.inspect_document(src)
    pdf = office.convert_office_to_pdf(info, work / "converted")
    assert documents.inspect_document(pdf).page_count == pages, "LibreOffice paginated differently"
    return pdf, truth


def cer(truth: str, text: str, spaces: bool = True) -> float:
    t, h = collapse(truth), collapse(text)
    if not spaces:
        t, h = t.replace(" ", ""), h.replace(" ", "")
    return Levenshtein.distance(t, h) / max(1, len(t))


async def run_mode(pdf: Path, home: Path, mode: str) -> dict[str, Any]:
    from upstage_ocr.jobs.service import OCRService
    from upstage_ocr.settings import Settings

    settings = Settings.load(env={"UPSTAGE_OCR_HOME": str(home), "UPSTAGE_OCR_ENGINE": "local"})
    async with OCRService(settings) as service:
        start = time.perf_counter()
        sub = await service.submit(str(pdf), engine="local", ocr=mode, output=str(home / "result.json"))
        job = await service.run(sub.job.id)
        wall = time.perf_counter() - start
        assert job.status == "completed", job.error
        result = service.result(job.id)
    sources = [m.model_dump().get("source") for m in result.metadata.pages]
    return {"wall": wall, "result": result, "text_layer": sources.count("text-layer")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=50, help="pages in the document (default 50)")
    args = parser.parse_args(argv)

    from upstage_ocr.inputs import office

    if office.find_soffice() is None:
        print("LibreOffice (soffice) is needed to make the born-digital PDF", file=sys.stderr)
        return 2
    with workdir() as work:
        pdf, truth = make_document(work, args.pages)
        # Warm-up: a one-page job in each mode (loads the models, and the code and job machinery either mode
        # runs on), so that neither mode is charged with what a process does once.
        (work / "warm").mkdir()
        first, _ = make_document(work / "warm", 1)
        for mode in ("auto", "force"):
            anyio.run(run_mode, first, work / f"warm-{mode}", mode)
        runs = {mode: anyio.run(run_mode, pdf, work / f"home-{mode}", mode) for mode in ("auto", "force")}
    rows = []
    for mode, run in runs.items():
        pages = run["result"].pages
        cers = [cer(t, p.text) for t, p in zip(truth, pages, strict=True)]
        bare = [cer(t, p.text, spaces=False) for t, p in zip(truth, pages, strict=True)]
        rows.append(
            [
                f"--ocr {mode}",
                f"{run['wall']:.2f}",
                f"{len(pages) / run['wall']:.2f}",
                f"{run['text_layer']}/{len(pages)}",
                f"{sum(cers) / len(cers) * 100:.3f}%",
                f"{sum(bare) / len(bare) * 100:.3f}%",
                f"{max(bare) * 100:.3f}%",
                run["result"].modelVersion,
            ]
        )
    print(f"# born-digital PDF, {args.pages} pages (DOCX -> LibreOffice), local engine; {machine()}\n")
    headers = ["mode", "wall s", "pages/s", "text layer", "CER", "CER no spaces", "max", "modelVersion"]
    print(table(headers, rows))
    speedup = runs["force"]["wall"] / runs["auto"]["wall"]
    print(f"\nauto vs force: {speedup:.1f}x faster ({runs['auto']['wall'] / args.pages * 1000:.0f} ms/page)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
