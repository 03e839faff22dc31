"""Benchmark the CLI's batch mode (`upstage-ocr ocr DIR`): files/s and cores busy against one file at a time.

    python bench/batch.py                         # 16 one-page scans on the real local engine, 30 on the cloud
    python bench/batch.py --files 8 --engine fake --cloud-files 9 --scale 0.05     # seconds (smoke test)

Local: a folder of one-page A4 scans (150 DPI PNG) through `upstage-ocr ocr DIR --engine local` with
`--jobs 1` and with the default, each in a fresh store. Cores busy = the CLI process's CPU time (user +
system, from wait4) over its wall time; on 2 cores the target is close to 2. `--engine fake` uses the fast
fake engine from tests/helpers.py (then CPU figures say little: there is no model).

Cloud: a folder of one-page scans through the fake Upstage API (bench/_common.py: 2 s per sync call x
--scale, 3 requests/s, 429 past it) with `--jobs 1` and the default. Printed: files/s, the speed-up, the
peak request rate the fake saw in any one-second window, and the 429s (target 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RATE_LIMIT,
    LatencyFake,
    cli,
    cloud_env,
    local_env,
    machine,
    make_page_images,
    run_child,
    table,
    workdir,
)


class CountingFake(LatencyFake):
    """LatencyFake that also records the arrival time of every API call (for the peak rate)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: list[float] = []

    def dispatch(self, method: str, url: str, headers: Any, body: bytes) -> Any:
        import time
        from urllib.parse import urlsplit

        endpoint, _ = self._route(method, urlsplit(url).path)
        if endpoint not in (None, "download"):
            with self._lock:
                self.arrivals.append(time.monotonic())
        return super().dispatch(method, url, headers, body)

    @property
    def peak_window(self) -> int:
        times = sorted(self.arrivals)
        best = 0
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


def run_local(
    work: Path, folder: Path, files: int, fake_engine: bool, jobs: list[int | None]
) -> list[list[str]]:
    rows = []
    base: float | None = None
    for j in jobs:
        tag = "default" if j is None else str(j)
        env = local_env(
            work / f"home-local-{tag}", work / f"out-local-{tag}", fake_engine=fake_engine, scratch=work
        )
        argv = cli("ocr", str(folder), "--engine", "local", "--quiet", *(["--jobs", str(j)] if j else []))
        print(f"  local --jobs {tag} ...", file=sys.stderr, flush=True)
        run = run_child(argv, env)
        done = len([x for x in run.stdout.splitlines() if x.strip()])
        if run.returncode != 0 or done != files:
            raise SystemExit(f"upstage-ocr failed (exit {run.returncode}): {run.stderr[-2000:]}")
        rate = files / run.wall
        base = base or rate
        rows.append(
            [
                f"local{' (fake engine)' if fake_engine else ''}, --jobs {tag}",
                f"{run.wall:.1f}",
                f"{rate:.2f}",
                f"{rate / base:.2f}",
                f"{run.cores:.2f}",
                f"{run.maxrss_kb / 1024:.0f} MiB peak RSS",
            ]
        )
    return rows


def run_cloud(work: Path, folder: Path, files: int, scale: float, jobs: list[int | None]) -> list[list[str]]:
    rows = []
    base: float | None = None
    for j in jobs:
        tag = "default" if j is None else str(j)
        fake = CountingFake(scale=scale)
        with fake.serve() as base_url:
            env = cloud_env(base_url, work / f"home-cloud-{tag}", work / f"out-cloud-{tag}")
            argv = cli("ocr", str(folder), "--quiet", *(["--jobs", str(j)] if j else []))
            print(f"  cloud --jobs {tag} ...", file=sys.stderr, flush=True)
            run = run_child(argv, env)
        done = len([x for x in run.stdout.splitlines() if x.strip()])
        if run.returncode != 0 or done != files:
            raise SystemExit(f"upstage-ocr failed (exit {run.returncode}): {run.stderr[-2000:]}")
        rate = files / run.wall
        base = base or rate
        rows.append(
            [
                f"cloud (fake API, latency x{scale:g}), --jobs {tag}",
                f"{run.wall:.1f}",
                f"{rate:.2f}",
                f"{rate / base:.2f}",
                f"{run.cores:.2f}",
                f"peak {fake.peak_window} req in 1 s (limit {RATE_LIMIT:g}), {fake.rate_limited} x 429",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=16, help="one-page scans for the local runs (0: skip)")
    parser.add_argument("--engine", choices=("real", "fake"), default="real", help="local engine")
    parser.add_argument(
        "--cloud-files", type=int, default=30, help="one-page scans for the cloud runs (0: skip)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="cloud latencies x this")
    parser.add_argument("--jobs", type=int, nargs="*", default=[], help="more --jobs values to compare")
    args = parser.parse_args(argv)
    jobs: list[int | None] = [1, None, *args.jobs]

    rows: list[list[str]] = []
    with workdir() as work:
        if args.files:
            folder = work / "local-scans"
            make_page_images(folder, args.files, seed=11)
            rows += run_local(work, folder, args.files, args.engine == "fake", jobs)
        if args.cloud_files:
            folder = work / "cloud-scans"
            make_page_images(folder, args.cloud_files, seed=12)
            rows += run_cloud(work, folder, args.cloud_files, args.scale, jobs)
    print(
        f"\nbatch mode: `upstage-ocr ocr DIR` on one-page A4 scans; {machine()} (UPSTAGE_OCR_WORKERS unset)\n"
    )
    print(table(["run", "wall s", "files/s", "x --jobs 1", "cores busy", "notes"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
