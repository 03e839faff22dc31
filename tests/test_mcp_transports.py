"""The server over real transports: stdio subprocess (SDK client and raw JSON-RPC: nothing but protocol on
stdout) and streamable HTTP (bearer token, DNS-rebinding protection)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from helpers import (
    assert_upstage_json,
    expected_text,
    fake_engine_env,
    free_port,
    make_pdf,
    make_png,
    wait_for_port,
)

TOKEN = "test-http-token-0123456789"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = fake_engine_env(tmp_path / "site")
    out.update(
        UPSTAGE_OCR_HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp),
        UPSTAGE_OCR_WORKERS="2",
        PYTHONUNBUFFERED="1",
    )
    return out


# -- stdio -----------------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess_lists_tools_and_ocrs(mode, env, tmp_path):
    doc = make_pdf(tmp_path / "stdio doc.pdf", 2)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "upstage_ocr", "serve"], env=env, cwd=str(tmp_path)
    )
    async with Client(params, mode=mode) as client:
        assert client.server_info.name == "upstage-ocr"
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"ocr_document", "get_ocr_status", "fetch_ocr_pages", "render_ocr_page"} <= names
        result = await client.call_tool("ocr_document", {"path": str(doc)})
        assert result.is_error is False, result.content
        out = result.structured_content
        assert out is not None
        assert out["status"] == "completed" and out["page_count"] == 2
        assert out["text"] == expected_text(1) + expected_text(2)
        assert out["result_path"] == str((tmp_path / "tmp" / "stdio doc.ocr.json").resolve())
        assert_upstage_json(out["result_path"], pages=2)
        bad = await client.call_tool("get_ocr_status", {"job_id": "missing"})
        assert bad.is_error is True


def _rpc(proc: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()


def test_stdio_stdout_carries_only_json_rpc(env, tmp_path):
    """Raw JSON-RPC over pipes: every stdout line is a JSON-RPC message, even through OCR and errors."""
    png = make_png(tmp_path / "raw.png", 5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "upstage_ocr", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(tmp_path),
    )
    try:
        _rpc(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"},
                },
            },
        )
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        _rpc(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "ocr_document", "arguments": {"path": str(png)}},
            },
        )
        _rpc(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {"name": "ocr_document", "arguments": {"path": str(tmp_path / "nope.png")}},
            },
        )
        responses: dict[int, dict[str, object]] = {}
        lines: list[bytes] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(responses) < 4 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            msg = json.loads(line)
            if "id" in msg and ("result" in msg or "error" in msg):
                responses[int(msg["id"])] = msg
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()  # EOF: the server shuts down
        rest = proc.stdout.read()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines.extend(x for x in rest.splitlines() if x.strip())
    for line in lines:
        msg = json.loads(line)  # every line is JSON ...
        assert msg.get("jsonrpc") == "2.0", line  # ... and JSON-RPC
    assert set(responses) == {1, 2, 3, 4}, (responses, stderr.decode(errors="replace")[-2000:])
    init = responses[1]["result"]
    assert init["serverInfo"]["name"] == "upstage-ocr"  # type: ignore[index]
    tools = {t["name"] for t in responses[2]["result"]["tools"]}  # type: ignore[index]
    assert "ocr_document" in tools
    call = responses[3]["result"]
    assert call["isError"] is False  # type: ignore[index]
    assert call["structuredContent"]["text"] == expected_text(5)  # type: ignore[index]
    failed = responses[4]["result"]
    assert failed["isError"] is True  # type: ignore[index]
    assert "file not found" in failed["content"][0]["text"]  # type: ignore[index]
    assert b"Traceback" not in stderr


# -- streamable HTTP -------------------------------------------------------------------------------------------


@pytest.fixture
def http_server(env, tmp_path):
    port = free_port()
    env = dict(env, UPSTAGE_OCR_HTTP_TOKEN=TOKEN)
    log = (tmp_path / "http.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "upstage_ocr", "serve", "--http", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(tmp_path),
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
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


def test_http_requires_the_bearer_token_and_a_local_host_header(http_server):
    with httpx.Client(timeout=10) as http:
        r = http.post(http_server, json=INIT, headers=HEADERS)
        assert r.status_code == 401
        assert "UPSTAGE_OCR_HTTP_TOKEN" in r.text and r.headers["www-authenticate"] == "Bearer"
        r = http.post(http_server, json=INIT, headers={**HEADERS, "Authorization": "Bearer wrong"})
        assert r.status_code == 401
        auth = {**HEADERS, "Authorization": f"Bearer {TOKEN}"}
        r = http.post(http_server, json=INIT, headers={**auth, "Host": "evil.example.com"})
        assert r.status_code == 421  # DNS rebinding protection
        r = http.post(http_server, json=INIT, headers={**auth, "Origin": "http://evil.example.com"})
        assert r.status_code == 403
        r = http.post(http_server, json=INIT, headers=auth)
        assert r.status_code == 200, r.text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_client_with_token_ocrs(mode, http_server, tmp_path):
    doc = make_pdf(tmp_path / "http.pdf", 2)
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(http_server, http_client=http), mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "ocr_document" in tools
        result = await client.call_tool("ocr_document", {"path": str(doc)})
        assert result.is_error is False, result.content
        out = result.structured_content
        assert out is not None and out["status"] == "completed"
        assert out["text"] == expected_text(1) + expected_text(2)
        assert Path(out["result_path"]).is_file()
        page = await client.read_resource(f"ocr://jobs/{out['job_id']}/pages/1")
        assert page.contents[0].text == expected_text(1)  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_http_client_without_token_is_refused(http_server):
    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in its own error types
        async with Client(http_server) as client:
            await client.list_tools()
