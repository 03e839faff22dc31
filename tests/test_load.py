"""A bounded load test over streamable HTTP on loopback: 50 concurrent MCP clients, 200 calls
(`ocr_document` on small files and `fetch_ocr_pages`), 0 errors; prints calls/s and the server's RSS before and
after (`pytest -s` shows them). The driver is bench/load_http.py (also runnable as a script)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from load_http import run_load


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc (Linux)")
def test_50_clients_200_calls_over_http(tmp_path):
    report = run_load(clients=50, calls=200, n_docs=10, workdir=tmp_path)
    print()
    print("\n".join(report.lines()))
    (tmp_path / "load-report.txt").write_text("\n".join(report.lines()) + "\n")
    assert report.errors == 0, report.error_samples
    assert report.calls == 200
    assert report.jobs == 10, "each file is recognised once, however many clients ask at the same time"
    assert report.seconds < 60
    assert report.rss_after_mb < report.rss_before_mb + 200, "the server's memory grew by more than 200 MB"
