"""The benchmarks in bench/ run end to end in their quickest modes (no timing is asserted: the figures are
for bench/README.md, made by the full runs). Each script runs as a subprocess, as a user would run it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run_bench(script: str, *args: str, timeout: float = 60) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_cloud_quick():
    out = run_bench("cloud.py", "--scale", "0.02", "--pages", "120", "--images", "4")
    assert "async, 120-page PDF (service)" in out
    assert "sync, 4 one-page scans (CLI --jobs default)" in out
    assert "429s caused:" in out


def test_server_quick():
    out = run_bench("server.py", "--quick", "--starts", "1", "--calls", "3", "--pages", "30")
    assert "upstage-ocr-mcp -> tools/list" in out
    assert "heavy modules loaded at start" in out
    assert "pages 991-1000 + words" not in out  # the range follows --pages
    assert "fetch_ocr_pages on a finished 30-page job" in out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc (Linux)")
def test_scale_quick():
    out = run_bench("scale.py", "--engine", "fake", "--pages", "5", "15")
    assert "| fake   | 15    |" in out
    assert "peak RSS over all runs" in out


def test_batch_quick():
    out = run_bench("batch.py", "--files", "3", "--engine", "fake", "--cloud-files", "3", "--scale", "0.02")
    assert "local (fake engine), --jobs 1" in out
    assert "cloud (fake API, latency x0.02), --jobs default" in out


@pytest.mark.slow
def test_local_engine_quick():
    out = run_bench("local_engine.py", "--quick", "--only", "receipt", "--limit", "1", timeout=180)
    assert "| receipt      | ours                    |" in out
    assert "| receipt      | rapidocr-direct         |" in out
    assert "receipt: ours/direct time = " in out
    assert "english" not in out.split("local engine benchmark")[1]  # --only holds
    assert "born-digital" not in out.split("local engine benchmark")[1]


def test_parse_quick():
    out = run_bench("parse.py", "--tables", "2", "--repeat", "1")
    assert "parse_page alone:" in out and "pages/s" in out
    assert "table cells right:" in out and "pages with every category right:" in out


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_textlayer_quick():
    out = run_bench("textlayer.py", "--pages", "1", timeout=300)
    assert "| --ocr auto  |" in out and "| 1/1        | 0.000%" in out
    assert "| --ocr force |" in out and "| 0/1        |" in out
    assert "auto vs force:" in out
