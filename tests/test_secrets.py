"""Secrets: a known key `up_...` goes through the CLI and the server (stdio subprocess and in process), on success
and every error path we can reach, and appears in no stdout/stderr, log line (DEBUG, every logger), stored job
(the SQLite bytes and every file under UPSTAGE_OCR_HOME), result file or export. Results and exports are written
atomically (temp + rename) with user-only permissions. The HTTP transport listens on loopback by default and
checks Host/Origin with or without a token (the token itself: tests/test_mcp_transports.py)."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from fake_upstage import FakeUpstage
from helpers import (
    StdioServer,
    fake_engine,
    fake_engine_env,
    fast_polling,
    free_port,
    make_pdf,
    private_tempdir,
    wait_for_port,
)
from upstage_ocr.cli import main
from upstage_ocr.mcp_server import build_server
from upstage_ocr.settings import Settings
from upstage_ocr.upstage import client as client_mod
from upstage_ocr.upstage.client import UpstageClient

KEY = "up_LeakCanary7f3a9c1e5b2d8046aa"
TOKEN = "http-token-LeakCanary-5e1c"
EXPORTS = ("txt", "md", "json", "csv", "docx", "hocr")


@pytest.fixture(autouse=True)
def _fast(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    fast_polling(monkeypatch)
    monkeypatch.setattr(client_mod, "BACKOFF_BASE", 0.005)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP", 0.01)
    with fake_engine():
        yield


def _all_files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def _assert_clean(where: str, data: str | bytes) -> None:
    blob = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    assert KEY.encode() not in blob, f"the API key leaked into {where}"
    assert KEY[3:].encode() not in blob, f"the API key (without its prefix) leaked into {where}"
    assert TOKEN.encode() not in blob, f"the HTTP token leaked into {where}"


def test_the_key_never_leaks(tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx/httpcore included
    home = Path(os.environ["UPSTAGE_OCR_HOME"])
    results = Path(os.environ["TMPDIR"])
    exports = tmp_path / "exports"
    exports.mkdir()
    outputs: list[tuple[str, str]] = []
    fake = FakeUpstage(api_key=KEY)
    small = make_pdf(tmp_path / "small.pdf", 3)
    big = make_pdf(tmp_path / "big.pdf", 105)

    def cli(*argv: str, code: int | None = 0) -> str:
        got = main(list(argv))
        out, err = capsys.readouterr()
        outputs.append((f"cli {argv}", out + err))
        if code is not None:
            assert got == code, (argv, got, err)
        return out

    with fake.serve() as base_url:
        monkeypatch.setenv("UPSTAGE_API_KEY", KEY)
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        monkeypatch.setenv("UPSTAGE_OCR_RATE_LIMIT", "500")
        monkeypatch.setenv("UPSTAGE_OCR_MAX_RETRIES", "2")
        monkeypatch.setenv("UPSTAGE_OCR_HTTP_TOKEN", TOKEN)

        # -- the CLI: successes (sync and async), every read command, exports --------------------------------
        cli("-v", "ocr", "--quiet", str(small))
        cli("-v", "ocr", "--quiet", "--schema", "clova", str(small))
        cli("-v", "ocr", "--quiet", str(big))
        jobs = json.loads(cli("jobs", "--json"))
        for job in jobs:
            cli("status", job["job_id"])
            cli("fetch", job["job_id"], "--words", "--json")
        job_id = next(j["job_id"] for j in jobs if j["input"] == "small.pdf" and j["status"] == "completed")
        for fmt in EXPORTS:
            cli("export", job_id, "-f", fmt, "-o", str(exports))
        cli("search", job_id, "Fake OCR", code=None)
        check = cli("check")
        assert "UPSTAGE_API_KEY" in check

        # -- the CLI: error paths ------------------------------------------------------------------------------
        fake.api_key = "up_someoneElsesKey000000"  # 401
        cli("-v", "ocr", "--force", str(small), code=10)
        fake.api_key = KEY
        fake.fail_next(2, 500, body={"message": f"internal error for Authorization: Bearer {KEY}"})  # echoed
        cli("-v", "ocr", "--force", str(small), code=14)
        fake.fail_next(2, 429, body=f"<html><title>slow down {KEY}</title></html>")
        cli("-v", "ocr", "--force", str(small), code=13)
        fake.fail_next(1, "reset", endpoint="submit")
        cli("-v", "ocr", "--force", "--quiet", str(big), code=15)
        cli("-v", "ocr", f"http://127.0.0.1:9/doc.pdf?api_key={KEY}", code=2)
        cli("-v", "ocr", f"https://user:{KEY}@example.invalid/doc.pdf", code=2)
        keyed = tmp_path / KEY
        keyed.mkdir()
        cli("-v", "ocr", str(keyed / "missing.pdf"), code=2)
        cli("-v", "status", KEY, code=17)
        monkeypatch.setenv("UPSTAGE_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: NetworkError
        cli("-v", "ocr", "--force", str(small), code=15)
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)

        # -- the CLI in a subprocess (its own logging setup, -v) -----------------------------------------------
        env = fake_engine_env(tmp_path / "site")
        env.update(PYTHONUNBUFFERED="1")
        for argv in (
            ["-v", "ocr", "--quiet", "--force", str(small)],
            ["-v", "ocr", str(tmp_path / "nope.pdf")],
            ["check"],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "upstage_ocr", *argv],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            outputs.append((f"subprocess {argv}", proc.stdout + proc.stderr))

        # -- the stdio server (subprocess): success, failure, reads ------------------------------------------
        with StdioServer(env, cwd=tmp_path, log=tmp_path / "stdio.log") as server:
            out = server.call("ocr_document", {"path": str(small), "force": True})
            server.call("fetch_ocr_pages", {"job_id": out["job_id"], "include_words": True})
            server.request(
                "tools/call", {"name": "ocr_document", "arguments": {"path": str(tmp_path / "x.pdf")}}
            )
            fake.api_key = "up_someoneElsesKey000000"
            server.request(
                "tools/call", {"name": "ocr_document", "arguments": {"path": str(small), "force": True}}
            )
            fake.api_key = KEY
            server.request("tools/call", {"name": "get_ocr_status", "arguments": {"job_id": KEY}})
            outputs.append(("stdio stdout", b"".join(server.lines).decode()))
        outputs.append(("stdio stderr", (tmp_path / "stdio.log").read_text()))

    # -- the server in process ------------------------------------------------------------------------------
    async def in_process() -> None:
        settings = Settings.load()
        async with Client(build_server(settings, transport=fake.transport())) as client:
            for args in (
                {"path": str(small), "force": True},
                {"path": str(small), "schema": "google", "force": True},
                {"path": str(tmp_path / "gone.pdf")},
                {"path": f"http://10.0.0.1/x.pdf?key={KEY}"},
            ):
                result = await client.call_tool("ocr_document", args)
                outputs.append((f"mcp {args}", repr(result.content) + repr(result.structured_content)))
            fake.api_key = "up_someoneElsesKey000000"
            result = await client.call_tool("ocr_document", {"path": str(small), "force": True})
            assert result.is_error
            outputs.append(("mcp 401", repr(result.content)))
            fake.api_key = KEY
            listing = await client.call_tool("list_ocr_jobs", {"limit": 200})
            outputs.append(("mcp list", repr(listing.structured_content)))

    import anyio

    anyio.run(in_process)

    assert len(outputs) > 30
    for where, text in outputs:
        _assert_clean(where, text)
    for record in caplog.records:
        _assert_clean(f"log record {record.name}", record.getMessage())
    _assert_clean("captured log", caplog.text)
    files = _all_files(home, results, exports)
    assert any(p.name == "jobs.sqlite3" for p in files) and len(files) > 10
    for path in files:
        _assert_clean(str(path), path.read_bytes())
    assert repr(Settings.load()).count(KEY) == 0 and KEY not in str(UpstageClient(Settings.load()))


# -- files: atomic, user-only -----------------------------------------------------------------------------


def test_results_and_exports_are_atomic_and_user_only(tmp_path, monkeypatch, capsys):
    import upstage_ocr.fsutil as fsutil
    import upstage_ocr.output.writers as exports_mod

    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", spy)
    monkeypatch.setattr(exports_mod.os, "replace", spy)
    os.umask(0o022)  # a typical umask: the files must still be 0o600
    doc = make_pdf(tmp_path / "perm.pdf", 2)
    assert main(["ocr", "--quiet", str(doc)]) == 0
    result = Path(capsys.readouterr().out.strip())
    job_id = json.loads((main(["jobs", "--json"]), capsys.readouterr().out)[1])[0]["job_id"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    written = [result]
    for fmt in (*EXPORTS, "pdf", "overlay"):
        assert main(["export", job_id, "-f", fmt, "-o", str(out_dir)]) == 0
        written += [Path(p) for p in capsys.readouterr().out.split()]
    assert len(written) >= 9
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path} has mode {oct(mode)}"
        src = next((s for s, d in renames if d == path), None)
        assert src is not None, f"{path} was not written by rename"
        assert src.parent == path.parent and src.name != path.name, (
            "the temp file must sit next to the target"
        )
    assert not [p for p in Path(os.environ["TMPDIR"]).iterdir() if p.name.endswith(".tmp")]
    home = Path(os.environ["UPSTAGE_OCR_HOME"])
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in home.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"


# -- the HTTP transport (gaps next to tests/test_mcp_transports.py) -------------------------------------------


def _listening(port: int) -> list[str]:
    """Local addresses with a socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                parts = line.split()
                addr, port_hex = parts[1].rsplit(":", 1)
                if int(port_hex, 16) == port and parts[3] == "0A":
                    found.append(addr)
    return found


@pytest.fixture
def http_no_token(tmp_path):
    port = free_port()
    env = fake_engine_env(tmp_path / "site")
    env.pop("UPSTAGE_OCR_HTTP_TOKEN", None)
    log = (tmp_path / "http.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "upstage_ocr", "serve", "--http", "--port", str(port)],  # no --host
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_for_port(port, proc=proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_listens_on_loopback_and_checks_host_and_origin_without_a_token(http_no_token):
    port = http_no_token
    addresses = _listening(port)
    if not addresses:
        pytest.skip("/proc/net/tcp not available")
    assert set(addresses) == {"0100007F"}, f"listening on {addresses}, not only 127.0.0.1"
    url = f"http://127.0.0.1:{port}/mcp"
    with httpx.Client(timeout=10) as http:
        assert http.post(url, json=INIT, headers={**HEADERS, "Host": "attacker.example"}).status_code == 421
        r = http.post(url, json=INIT, headers={**HEADERS, "Origin": "http://attacker.example"})
        assert r.status_code == 403
        r = http.post(url, json=INIT, headers={**HEADERS, "Origin": f"http://localhost:{port}"})
        assert r.status_code == 200, r.text
