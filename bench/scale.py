"""Benchmark scale on the local engine: peak memory and pages/s as a PDF grows (10, 100, 1,000 pages).

    python bench/scale.py                                  # real RapidOCR on 10 and 100 pages, fake on 10/100/1000
    python bench/scale.py --engine real --pages 10 100 1000  # the real engine on 1,000 pages (about 20 min)
    python bench/scale.py --engine fake --pages 10 50      # seconds (the smoke test)

Each run is a fresh child process (`--child`) that loads the engine, warms it on one small image, then OCRs an
A4 text PDF (40 lines a page, rendered at 150 DPI) through the service (`OCRService.submit` + `run`: the path
the CLI and the MCP server take), sampling VmRSS from /proc/self/status at every stored page. The parent reads
the child's peak RSS from wait4() (ru_maxrss). `fake` is the fast engine from tests/helpers.py: rendering,
the job store and result writing without the model, so the pipeline's own cost shows.

Printed per run: wall time of the job, pages/s, seconds per page relative to the smallest run of the same
engine (1.00 = linear), RSS after warm-up, after 10% of the pages, at the end, and the peak. Target: peak
under 1 GiB; RSS growth from 10% to the end near 0 (nothing grows with the page count).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, make_text_pdf, proc_status_kb, run_child, table, workdir

GIB_KB = 1024 * 1024
DEFAULT_FAKE = [10, 100, 1000]
DEFAULT_REAL = [10, 100]


async def _child_job(pdf: Path, home: Path, workers: int | None) -> dict[str, object]:
    from upstage_ocr.jobs.service import OCRService
    from upstage_ocr.settings import Settings

    samples: list[tuple[int, int]] = []

    async def progress(done: int, total: int | None, message: str) -> None:
        samples.append((done, proc_status_kb("VmRSS")))

    env = {"UPSTAGE_OCR_HOME": str(home), "UPSTAGE_OCR_ENGINE": "local"}
    if workers:
        env["UPSTAGE_OCR_WORKERS"] = str(workers)
    settings = Settings.load(env=env)
    async with OCRService(settings) as service:
        start = time.perf_counter()
        cpu0 = time.process_time()
        sub = await service.submit(str(pdf), engine="local", ocr="force")  # its PDF is vector text: OCR it
        job = await service.run(sub.job.id, progress)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    if job.status != "completed":
        raise SystemExit(f"job ended {job.status}: {job.error}")
    total = job.pages_total or 0
    at10 = next((rss for done, rss in samples if done >= max(1, total // 10)), 0)
    return {
        "pages": job.pages_done,
        "wall": wall,
        "cpu": cpu,
        "rss_10pct_kb": at10,
        "rss_end_kb": proc_status_kb("VmRSS"),
        "rss_max_sampled_kb": max((rss for _, rss in samples), default=0),
    }


def child(args: argparse.Namespace) -> int:
    if args.engine == "fake":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from helpers import install_fake_engine

        install_fake_engine()
    from PIL import Image

    from upstage_ocr.engines.base import get_engine

    t0 = time.perf_counter()
    engine = get_engine("local")
    warm = Image.new("RGB", (400, 120), "white")
    engine.recognize(warm, None)
    load = time.perf_counter() - t0
    baseline = proc_status_kb("VmRSS")
    out = anyio.run(_child_job, Path(args.pdf), Path(args.home), args.workers)
    out.update(load=load, rss_baseline_kb=baseline, vmhwm_kb=proc_status_kb("VmHWM"))
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("both", "real", "fake"), default="both")
    parser.add_argument(
        "--pages", type=int, nargs="+", help="page counts (default: real 10 100, fake 10 100 1000)"
    )
    parser.add_argument(
        "--workers", type=int, help="pages in flight (UPSTAGE_OCR_WORKERS; default: min(2, cores))"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pdf", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    plan: list[tuple[str, int]] = []
    if args.engine in ("both", "real"):
        plan += [("real", n) for n in (args.pages or DEFAULT_REAL)]
    if args.engine in ("both", "fake"):
        plan += [("fake", n) for n in (args.pages or DEFAULT_FAKE)]

    rows = []
    first_spp: dict[str, float] = {}
    peak_all = 0
    with workdir() as work:
        pdfs: dict[int, Path] = {}
        for engine, pages in plan:
            if pages not in pdfs:
                pdfs[pages] = make_text_pdf(work / f"doc_{pages}p.pdf", pages, seed=pages)
            home = work / f"home-{engine}-{pages}"
            env = dict(os.environ)
            env.pop("UPSTAGE_API_KEY", None)
            env["TMPDIR"] = str(work)
            argv_child = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--engine",
                engine,
                "--pdf",
                str(pdfs[pages]),
                "--home",
                str(home),
                *(["--workers", str(args.workers)] if args.workers else []),
            ]
            print(f"  {engine} engine, {pages} pages ...", file=sys.stderr, flush=True)
            # the real engine runs ~0.3 pages/s on 2 cores: allow 10 s a page (1,000 pages: under 3 h)
            run = run_child(argv_child, env, timeout=max(3600.0, 10.0 * pages))
            if run.returncode != 0:
                raise SystemExit(f"child failed ({run.returncode}): {run.stderr[-3000:]}")
            data = json.loads(run.stdout.strip().splitlines()[-1])
            spp = float(data["wall"]) / pages
            first_spp.setdefault(engine, spp)
            peak = max(run.maxrss_kb, int(data["vmhwm_kb"]))
            peak_all = max(peak_all, peak)
            mib = 1024.0
            rows.append(
                [
                    engine,
                    str(pages),
                    f"{data['wall']:.1f}",
                    f"{pages / data['wall']:.2f}",
                    f"{spp / first_spp[engine]:.2f}",
                    f"{data['cpu'] / data['wall']:.2f}",
                    f"{data['rss_baseline_kb'] / mib:.0f}",
                    f"{data['rss_10pct_kb'] / mib:.0f}",
                    f"{data['rss_end_kb'] / mib:.0f}",
                    f"{(data['rss_end_kb'] - data['rss_10pct_kb']) / mib:+.0f}",
                    f"{peak / mib:.0f}",
                ]
            )
    workers = args.workers or "default"
    print(f"\nlocal engine at scale: A4 text PDF pages at 150 DPI, workers {workers}; {machine()}\n")
    print(
        table(
            [
                "engine",
                "pages",
                "job s",
                "pages/s",
                "s/page vs smallest",
                "cores busy",
                "RSS warm MiB",
                "RSS @10% MiB",
                "RSS end MiB",
                "growth 10%->end",
                "peak MiB",
            ],
            rows,
        )
    )
    print(f"\npeak RSS over all runs {peak_all / 1024:.0f} MiB (target < 1024 MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
