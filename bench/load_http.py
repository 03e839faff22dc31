"""A bounded load test of the MCP server over streamable HTTP on loopback.

    python bench/load_http.py [--clients 50] [--calls 200] [--docs 10]

Starts `python -m upstage_ocr serve --http --port P` with the fast fake local engine (tests/helpers.py, through
its sitecustomize trick), opens `--clients` concurrent MCP sessions and makes `--calls` tool calls in all,
alternating `ocr_document` on small files (PNGs and 2-page PDFs; the first call per file does the work, the
rest reuse it) and `fetch_ocr_pages` on the job just returned. Prints calls/s, errors, latency percentiles and
the server's RSS before and after (VmRSS/VmHWM from /proc/<pid>/status). tests/test_load.py runs it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT / "server"), str(ROOT / "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import anyio  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from helpers import expected_text, fake_engine_env, free_port, make_pdf, make_png, wait_for_port  # noqa: E402


@dataclass
class LoadReport:
    clients: int
    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float
    jobs: int
    error_samples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"load: {self.clients} clients, {self.calls} calls in {self.seconds:.2f} s = "
            f"{self.calls_per_second:.1f} calls/s, errors {self.errors}",
            f"latency ms: p50 {self.latency_p50_ms:.0f}, p95 {self.latency_p95_ms:.0f}, "
            f"max {self.latency_max_ms:.0f}",
            f"server RSS MB: before {self.rss_before_mb:.1f}, after {self.rss_after_mb:.1f}, "
            f"peak {self.rss_peak_mb:.1f}; jobs in the store {self.jobs}",
        ]


def _memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MB (Linux)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


async def _drive(
    url: str, docs: list[tuple[Path, str]], clients: int, calls: int
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    per_client = [calls // clients + (1 if i < calls % clients else 0) for i in range(clients)]

    async def client(index: int, count: int) -> None:
        try:
            async with Client(streamable_http_client(url)) as session:
                job_id: str | None = None
                for k in range(count):
                    doc, text = docs[(index + k // 2) % len(docs)]
                    if k % 2 == 0 or job_id is None:
                        name, args = "ocr_document", {"path": str(doc)}
                    else:
                        name, args = "fetch_ocr_pages", {"job_id": job_id, "pages": "1"}
                    started = time.perf_counter()
                    try:
                        result = await session.call_tool(name, args)
                    except Exception as exc:  # a transport failure counts as an error
                        errors.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
                        continue
                    latencies.append(time.perf_counter() - started)
                    out = result.structured_content or {}
                    if result.is_error:
                        errors.append(f"{name}: {result.content}"[:300])
                    elif name == "ocr_document":
                        job_id = out.get("job_id")
                        if out.get("status") != "completed" or not str(out.get("text", "")).startswith(text):
                            errors.append(
                                f"ocr_document: unexpected {out.get('status')} {out.get('text')!r}"[:300]
                            )
                    elif not out.get("pages") or not out["pages"][0]["text"].startswith(text):
                        errors.append(f"fetch_ocr_pages: unexpected {out}"[:300])
        except Exception as exc:
            errors.append(f"session {index}: {type(exc).__name__}: {exc}"[:300])

    async with anyio.create_task_group() as tg:
        for i, count in enumerate(per_client):
            tg.start_soon(client, i, count)
    return latencies, errors


def run_load(
    clients: int = 50, calls: int = 200, n_docs: int = 10, workdir: Path | None = None
) -> LoadReport:
    """Start the HTTP server, drive it, stop it; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="upstage-ocr-load-") as scratch:
        base = Path(workdir or scratch)
        docs_dir = base / "docs"
        docs_dir.mkdir(parents=True, exist_ok=True)
        docs: list[tuple[Path, str]] = []
        for i in range(n_docs):
            number = i + 1
            if i % 2:
                docs.append((make_pdf(docs_dir / f"doc{number}.pdf", 2, first=number), expected_text(number)))
            else:
                docs.append((make_png(docs_dir / f"img{number}.png", number), expected_text(number)))
        (base / "tmp").mkdir(exist_ok=True)
        env = fake_engine_env(base / "site")
        env.update(
            UPSTAGE_OCR_HOME=str(base / "home"),
            TMPDIR=str(base / "tmp"),
            UPSTAGE_OCR_WORKERS="2",
            PYTHONUNBUFFERED="1",
        )
        for var in ("UPSTAGE_API_KEY", "UPSTAGE_OCR_HTTP_TOKEN", "UPSTAGE_OCR_ENGINE"):
            env.pop(var, None)
        port = free_port()
        with (base / "server.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "upstage_ocr", "serve", "--http", "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                wait_for_port(port, timeout=30, proc=proc)
                before = _memory(proc.pid)
                started = time.perf_counter()
                latencies, errors = anyio.run(_drive, f"http://127.0.0.1:{port}/mcp", docs, clients, calls)
                seconds = time.perf_counter() - started
                after = _memory(proc.pid)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        from upstage_ocr.jobs.store import JobStore

        store = JobStore(base / "home")
        jobs = len(store.list(limit=1000))
        store.close()
    ordered = sorted(latencies) or [0.0]
    return LoadReport(
        clients=clients,
        calls=len(latencies),
        errors=len(errors) + max(0, calls - len(latencies) - len(errors)),
        seconds=seconds,
        calls_per_second=len(latencies) / seconds if seconds else 0.0,
        latency_p50_ms=statistics.median(ordered) * 1000,
        latency_p95_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        latency_max_ms=ordered[-1] * 1000,
        rss_before_mb=before.get("VmRSS", 0.0),
        rss_after_mb=after.get("VmRSS", 0.0),
        rss_peak_mb=after.get("VmHWM", 0.0),
        jobs=jobs,
        error_samples=errors[:5],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run_load(args.clients, args.calls, args.docs)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print("\n".join(report.lines()))
        for sample in report.error_samples:
            print(f"  error: {sample}")
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
