"""Benchmark the cloud path against the optimum the rate limit and the API's latency allow.

    python bench/cloud.py                      # full: 1,000-page PDF via async, 200 one-page scans via sync
    python bench/cloud.py --scale 0.1          # every latency x0.1 (the rate limit stays 3 requests/s)
    python bench/cloud.py --scale 0.05 --pages 100 --images 12      # seconds, for the smoke test

The fake Upstage API (tests/fake_upstage.py) runs as a real HTTP server on 127.0.0.1 with realistic latency
(bench/_common.py LATENCY: 2 s for a one-page sync call, 1 s for an async submit, 0.2 s per status poll,
0.3 s per batch download), async batches of 10 pages finishing one after another every 2 s, and a limit of
3 requests per sliding second answered with 429 past it.

1. Async: a 1,000-page PDF through the service in process (submit, poll, download every batch, write the
   result). Optimum = max(submit latency, the time the API needs for all batches) + one status poll + one
   batch download. With --scale below 1 the client's poll intervals are scaled by the same factor (in this
   process only), so the ratio stays comparable.
2. Sync: a folder of one-page PNG scans through the real CLI (`upstage-ocr ocr DIR`, a subprocess). Optimum
   = the last request a sliding-window limit of 3/s can accept, floor((N-1)/3) s, plus one call's latency.
   `--compare-jobs 4 1` adds runs with `--jobs 4` and `--jobs 1` side by side.

Printed: wall time, optimum, their ratio (target <= 1.1), the same ratio on the API's own span (first
arrival to last reply: client pacing without process start-up), 429s the client caused (target 0), calls.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    LATENCY,
    RATE_LIMIT,
    LatencyFake,
    cli,
    cloud_env,
    machine,
    make_page_images,
    make_text_pdf,
    run_child,
    table,
    workdir,
)

TARGET = 1.1


def sync_optimum(files: int, scale: float) -> float:
    """Seconds: the last of `files` requests accepted by a sliding one-second window, plus its latency."""
    return math.floor((files - 1) / RATE_LIMIT) + LATENCY["sync"] * scale


def async_optimum(pages: int, scale: float, batch_size: int = 10) -> float:
    batches = math.ceil(pages / batch_size)
    ready = max(LATENCY["submit"] * scale, batches * LatencyFake(scale=scale).seconds_per_batch)
    return ready + (LATENCY["status"] + LATENCY["download"]) * scale


async def _run_async(pdf: Path, settings: Any, scale: float) -> tuple[float, int]:
    from upstage_ocr.jobs.service import OCRService
    from upstage_ocr.upstage import client

    defaults = client.POLL_SECONDS, client.MAX_POLL_SECONDS
    client.POLL_SECONDS, client.MAX_POLL_SECONDS = defaults[0] * scale, defaults[1] * scale
    try:
        async with OCRService(settings) as service:
            start = time.perf_counter()
            sub = await service.submit(str(pdf), engine="upstage")
            job = await service.run(sub.job.id)
            wall = time.perf_counter() - start
    finally:
        client.POLL_SECONDS, client.MAX_POLL_SECONDS = defaults
    if job.status != "completed":
        raise SystemExit(f"async job ended {job.status}: {job.error}")
    return wall, job.pages_done


def bench_async(work: Path, pages: int, scale: float) -> list[list[str]]:
    from upstage_ocr.settings import Settings

    pdf = make_text_pdf(work / f"doc_{pages}p.pdf", pages, seed=7)
    fake = LatencyFake(scale=scale)
    with fake.serve() as base_url:
        env = cloud_env(base_url, work / "home-async", work / "out-async")
        settings = Settings.load(env=env)
        wall, done = anyio.run(_run_async, pdf, settings, scale)
    if done != pages:
        raise SystemExit(f"async job stored {done} of {pages} pages")
    optimum = async_optimum(pages, scale)
    span = fake.api_span
    return [
        [
            f"async, {pages}-page PDF (service)",
            f"{wall:.2f}",
            f"{optimum:.2f}",
            f"{wall / optimum:.3f}",
            f"{span / optimum:.3f}",
            str(fake.rate_limited),
            f"{fake.submits} submit, {fake.status_polls} polls, {fake.downloads} downloads",
        ]
    ]


def bench_sync(work: Path, images: int, scale: float, compare: list[int]) -> list[list[str]]:
    folder = work / "scans"
    make_page_images(folder, images, seed=3)
    rows = []
    optimum = sync_optimum(images, scale)
    for jobs in [None, *compare]:
        tag = "default" if jobs is None else str(jobs)
        fake = LatencyFake(scale=scale)
        with fake.serve() as base_url:
            env = cloud_env(base_url, work / f"home-sync-{tag}", work / f"out-sync-{tag}")
            argv = cli("ocr", str(folder), "--quiet", *(["--jobs", str(jobs)] if jobs else []))
            run = run_child(argv, env)
        results = [line for line in run.stdout.splitlines() if line.strip()]
        if run.returncode != 0 or len(results) != images:
            raise SystemExit(f"upstage-ocr ocr failed (exit {run.returncode}): {run.stderr[-2000:]}")
        rows.append(
            [
                f"sync, {images} one-page scans (CLI --jobs {tag})",
                f"{run.wall:.2f}",
                f"{optimum:.2f}",
                f"{run.wall / optimum:.3f}",
                f"{fake.api_span / optimum:.3f}",
                str(fake.rate_limited),
                f"{fake.sync_calls} sync calls",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every latency by this (e.g. 0.1)")
    parser.add_argument("--pages", type=int, default=1000, help="pages of the async PDF (0: skip)")
    parser.add_argument(
        "--images", type=int, default=200, help="one-page scans for the sync folder (0: skip)"
    )
    parser.add_argument(
        "--compare-jobs", type=int, nargs="*", default=[], metavar="N", help="also run the CLI with --jobs N"
    )
    parser.add_argument("--keep", help="work in this directory and keep it")
    args = parser.parse_args(argv)

    rows: list[list[str]] = []
    with workdir(args.keep) as work:
        if args.pages:
            rows += bench_async(work, args.pages, args.scale)
        if args.images:
            rows += bench_sync(work, args.images, args.scale, args.compare_jobs)
    print(
        f"\ncloud path vs the optimum: fake Upstage API on 127.0.0.1, latencies x{args.scale:g} "
        f"(sync {LATENCY['sync'] * args.scale:g} s, submit {LATENCY['submit'] * args.scale:g} s, poll "
        f"{LATENCY['status'] * args.scale:g} s, download {LATENCY['download'] * args.scale:g} s, a 10-page batch "
        f"every {LatencyFake(scale=args.scale).seconds_per_batch:g} s), limit {RATE_LIMIT:g} requests/s; "
        f"{machine()}\n"
    )
    print(
        table(
            ["run", "wall s", "optimum s", "wall/opt", "API span/opt", "429s", "calls"],
            rows,
        )
    )
    default = [r for r in rows if "--jobs" not in r[0] or "--jobs default" in r[0]]
    worst = max(float(r[3]) for r in default) if default else 0.0
    four29 = sum(int(r[5]) for r in rows)
    print(
        f"\nworst wall/optimum with the defaults {worst:.3f} (target <= {TARGET}); "
        f"429s caused: {four29} (target 0)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
