"""Benchmark the MCP server: cold start to a `tools/list` answer, and `fetch_ocr_pages` on a 1,000-page job.

    python bench/server.py                 # 7 cold starts, 200 fetch calls per case
    python bench/server.py --quick         # 2 cold starts, 20 calls per case (the smoke test)

1. Cold start: `upstage-ocr-mcp` spawned with a fresh store; initialize + initialized + tools/list are written
   at once and the clock stops at the tools/list answer. Side by side: the bare interpreter (`python -c pass`)
   and importing the MCP SDK alone (the floor no server built on it can beat). Target: under 1 s. Then one
   start under `python -X importtime` lists the heavy modules it loaded (none of PIL, numpy, onnxruntime,
   rapidocr, pypdfium2, pikepdf should be there: they load lazily, on the first OCR).
2. fetch_ocr_pages on a finished 1,000-page job (250 words a page, inserted into the JobStore directly):
   median and p95 over N calls, in process (`mcp.Client(server)`) and over stdio. Target: < 20 ms in
   process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BIN_DIR, machine, percentile, table, workdir

HEAVY = (
    "PIL.Image",
    "numpy",
    "onnxruntime",
    "rapidocr",
    "cv2",
    "pypdfium2",
    "pikepdf",
    "rapidfuzz",
    "docx",
    "uvicorn",
)
COLD_TARGET = 1.0
FETCH_TARGET_MS = 20.0
HANDSHAKE = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


def _server_argv(importtime: bool = False) -> list[str]:
    if importtime:
        return [sys.executable, "-X", "importtime", "-c", "from upstage_ocr.mcp_server import main; main()"]
    exe = BIN_DIR / "upstage-ocr-mcp"
    return (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from upstage_ocr.mcp_server import main; main()"]
    )


def cold_start(env: dict[str, str], importtime: bool = False) -> tuple[float, int, str]:
    """Seconds from spawn to the tools/list answer, the number of tools, and stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        _server_argv(importtime),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in HANDSHAKE))
    proc.stdin.flush()
    tools = -1
    elapsed = float("nan")
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("id") == 2:
            elapsed = time.perf_counter() - start
            tools = len(msg["result"]["tools"])
            break
    proc.stdin.close()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    reader.join(timeout=5)
    if tools < 0:
        raise SystemExit(f"the server gave no tools/list answer: {b''.join(err_chunks)[-2000:]!r}")
    return elapsed, tools, b"".join(err_chunks).decode("utf-8", "replace")


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_imports(stderr: str) -> dict[str, float]:
    """Top-level heavy packages in an `-X importtime` log -> their cumulative import ms."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        name = parts[2].strip()
        if name in HEAVY:
            found[name] = int(parts[1]) / 1000
    return found


# -- the 1,000-page job ----------------------------------------------------------------------------------


def _page(i: int, lines: int = 25, per_line: int = 10) -> dict[str, Any]:
    words: list[dict[str, Any]] = []
    text_lines = []
    for li in range(lines):
        texts = [f"w{i}x{li}y{k}" for k in range(per_line)]
        text_lines.append(" ".join(texts))
        for k, text in enumerate(texts):
            x, y = 100 + k * 100, 100 + li * 60
            verts = [
                {"x": x, "y": y},
                {"x": x + 90, "y": y},
                {"x": x + 90, "y": y + 30},
                {"x": x, "y": y + 30},
            ]
            words.append(
                {"boundingBox": {"vertices": verts}, "confidence": 0.95, "id": len(words), "text": text}
            )
    return {
        "confidence": 0.95,
        "height": 1754,
        "id": i,
        "text": " \n".join(text_lines),
        "width": 1240,
        "words": words,
    }


def build_job(home: Path, pages: int) -> str:
    from upstage_ocr.jobs.store import JobStore
    from upstage_ocr.models import Page

    store = JobStore(home)
    job, _ = store.find_or_create(
        key=f"bench-{pages}",
        input_name="bench.pdf",
        input_path=str(home / "bench.pdf"),
        source=str(home / "bench.pdf"),
        sha256="0" * 64,
        size=1,
        options={"engine": "upstage", "schema": None, "pages": None, "model": "ocr"},
        engine="upstage",
        pages_total=pages,
        page_numbers=list(range(1, pages + 1)),
    )
    for start in range(0, pages, 100):
        rows = [(i, i + 1, Page.model_validate(_page(i))) for i in range(start, min(pages, start + 100))]
        store.add_pages(job.id, rows)
    store.mark_completed(job.id, result_path=str(home / "bench.ocr.json"), model_version="ocr-260930")
    return job.id


def cases(pages: int) -> list[tuple[str, dict[str, Any]]]:
    last = f"{max(1, pages - 9)}-{pages}"
    return [
        ("default (pages 1-10, text)", {}),
        (f"pages {last} + words", {"pages": last, "include_words": True}),
        (f"page {max(1, pages // 2)} + words", {"pages": str(max(1, pages // 2)), "include_words": True}),
    ]


async def fetch_in_process(
    home: Path, job_id: str, calls: int, pages: int, *, revalidate: bool = True
) -> dict[str, list[float]]:
    """ms per call through `mcp.Client(server)`. `revalidate=False` turns off the Python SDK client's own
    jsonschema check of every result against the output schema, leaving the server's share of the time."""
    from mcp import Client
    from mcp.client.session import ClientSession

    from upstage_ocr.mcp_server import build_server
    from upstage_ocr.settings import Settings

    async def no_check(self: Any, name: str, result: Any) -> None:
        return None

    saved = ClientSession.validate_tool_result
    out: dict[str, list[float]] = {}
    settings = Settings.load(env={"UPSTAGE_OCR_HOME": str(home)})
    try:
        if not revalidate:
            ClientSession.validate_tool_result = no_check  # type: ignore[method-assign]
        async with Client(build_server(settings)) as client:
            for name, extra in cases(pages):
                args = {"job_id": job_id, **extra}
                for _ in range(3):  # warm-up
                    await client.call_tool("fetch_ocr_pages", args)
                times = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    result = await client.call_tool("fetch_ocr_pages", args)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert not result.is_error, result.content
                out[name] = times
    finally:
        ClientSession.validate_tool_result = saved  # type: ignore[method-assign]
    return out


def fetch_stdio(env: dict[str, str], job_id: str, calls: int, pages: int) -> dict[str, list[float]]:
    """ms per call over stdio (raw JSON-RPC over the pipes: no client-side validation)."""
    from helpers import StdioServer

    out: dict[str, list[float]] = {}
    with StdioServer(env) as server:
        for name, extra in cases(pages):
            args = {"job_id": job_id, **extra}
            for _ in range(3):
                server.call("fetch_ocr_pages", args)
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                server.call("fetch_ocr_pages", args)
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = times
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few starts and calls (seconds)")
    parser.add_argument("--starts", type=int, help="cold starts to time (default 7; quick 2)")
    parser.add_argument("--calls", type=int, help="fetch calls per case (default 200; quick 20)")
    parser.add_argument("--pages", type=int, default=1000, help="pages in the finished job")
    args = parser.parse_args(argv)
    starts = args.starts or (2 if args.quick else 7)
    calls = args.calls or (20 if args.quick else 200)

    with workdir() as work:
        env = dict(os.environ)
        env.pop("UPSTAGE_API_KEY", None)
        env.update(UPSTAGE_OCR_HOME=str(work / "cold"), TMPDIR=str(work))

        # 1. cold start, interleaved with its baselines so drift hits all three alike
        py, sdk, server = [], [], []
        tools = 0
        for i in range(starts):
            env["UPSTAGE_OCR_HOME"] = str(work / f"cold{i}")
            py.append(timed([sys.executable, "-c", "pass"], env))
            sdk.append(timed([sys.executable, "-c", "import mcp.server.mcpserver"], env))
            elapsed, tools, _ = cold_start(env)
            server.append(elapsed)
        _, _, log = cold_start(env, importtime=True)
        heavy = heavy_imports(log)

        # 2. fetch_ocr_pages on a finished job
        home = work / "store"
        t0 = time.perf_counter()
        job_id = build_job(home, args.pages)
        built = time.perf_counter() - t0
        inproc = anyio.run(fetch_in_process, home, job_id, calls, args.pages)
        server_side = anyio.run(partial(fetch_in_process, revalidate=False), home, job_id, calls, args.pages)
        env["UPSTAGE_OCR_HOME"] = str(home)
        stdio = fetch_stdio(env, job_id, calls, args.pages)

    med_server = statistics.median(server)
    print(f"\nMCP server benchmark; {machine()}\n")
    print(f"cold start to a tools/list answer ({tools} tools), median of {starts}:\n")
    print(
        table(
            ["process", "median s", "min s", "x bare python"],
            [
                [
                    name,
                    f"{statistics.median(v):.3f}",
                    f"{min(v):.3f}",
                    f"{statistics.median(v) / statistics.median(py):.2f}",
                ]
                for name, v in (
                    ("python -c pass", py),
                    ("python -c 'import mcp.server.mcpserver' (SDK floor)", sdk),
                    ("upstage-ocr-mcp -> tools/list", server),
                )
            ],
        )
    )
    print(
        f"\nserver over SDK floor: {med_server / statistics.median(sdk):.2f}x; target < {COLD_TARGET:g} s: "
        f"{'met' if med_server < COLD_TARGET else 'MISSED'} ({med_server:.3f} s)"
    )
    loaded = ", ".join(f"{k} ({v:.0f} ms)" for k, v in sorted(heavy.items())) or "none"
    print(f"heavy modules loaded at start ({', '.join(HEAVY)}): {loaded}")

    print(
        f"\nfetch_ocr_pages on a finished {args.pages}-page job (built in {built:.1f} s), {calls} calls each, ms:\n"
    )
    rows = []
    for name, _ in cases(args.pages):
        a, c, b = inproc[name], server_side[name], stdio[name]
        rows.append(
            [
                name,
                f"{statistics.median(a):.2f}",
                f"{percentile(a, 95):.2f}",
                f"{statistics.median(c):.2f}",
                f"{percentile(c, 95):.2f}",
                f"{statistics.median(b):.2f}",
                f"{percentile(b, 95):.2f}",
            ]
        )
    print(
        table(
            [
                "call",
                "Client median",
                "Client p95",
                "no revalidation median",
                "no revalidation p95",
                "stdio median",
                "stdio p95",
            ],
            rows,
        )
    )
    print(
        "\n(Client = mcp.Client(server) in process, which re-checks every result against the output schema with "
        "jsonschema;\n no revalidation = the same with that client-side check off: the server's share.)"
    )
    default = cases(args.pages)[0][0]
    print(
        f"\n{default}: in-process p95 {percentile(inproc[default], 95):.2f} ms (target < {FETCH_TARGET_MS:g} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
