"""The MCP server in process (`Client(server)`, modes auto and legacy): tools, schemas, happy paths, errors,
progress, background jobs, partial fetches, idempotency and the page resource. Local engine = the fast fake."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from helpers import (
    FAKE_MODEL_VERSION,
    assert_upstage_json,
    downloaded_batches,
    expected_text,
    fake_engine,
    fast_polling,
    make_pdf,
    make_png,
    private_tempdir,
)
from upstage_ocr.mcp_server import build_server
from upstage_ocr.settings import Settings

MODES = ["auto", "legacy"]
TOOLS = {
    "ocr_document",
    "parse_document",
    "fetch_parse_pages",
    "get_ocr_status",
    "fetch_ocr_pages",
    "list_ocr_jobs",
    "export_ocr",
    "search_ocr_text",
    "render_ocr_page",
}


@pytest.fixture(autouse=True)
def _fast_local(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)
    monkeypatch.setenv("UPSTAGE_OCR_WORKERS", "2")
    with fake_engine():
        yield


@pytest.fixture
def tmp(tmp_path) -> Path:
    """Where results go by default (<temp>/<stem>.ocr.json), private to the test."""
    return (tmp_path / "tmp").resolve()


def recognised(calls: Path) -> list[int]:
    return [int(x) for x in calls.read_text().split()]


def server(**overrides: Any):
    return build_server(Settings.load(**overrides))


async def ok(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, **kw)
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def err(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error is True, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return str(text)


async def wait_for(
    client: Client, job_id: str, status: str = "completed", timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        st = await ok(client, "get_ocr_status", {"job_id": job_id})
        if st["status"] == status:
            return st
        assert st["status"] != "failed", st
        assert time.monotonic() < deadline, f"job {job_id} still {st['status']}: {st}"
        await anyio.sleep(0.05)


# -- discovery ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_tools_have_schemas_titles_and_annotations(mode):
    async with Client(server(), mode=mode) as client:
        assert client.server_info.name == "upstage-ocr"
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for name, tool in tools.items():
            assert tool.title, name
            assert tool.description, name
            assert tool.input_schema["type"] == "object", name
            assert "ctx" not in tool.input_schema.get("properties", {}), name
            assert tool.annotations is not None, name
            assert tool.annotations.destructive_hint is False, name
            if name != "render_ocr_page":  # returns an image content block
                assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
        ocr = tools["ocr_document"]
        assert ocr.input_schema["required"] == ["path"]
        props = ocr.input_schema["properties"]
        assert {"path", "pages", "engine", "model", "schema", "lang", "output", "force", "wait"} <= set(props)
        assert ocr.annotations.open_world_hint is True
        assert ocr.annotations.read_only_hint is False
        assert {"job_id", "status", "text", "result_path", "mean_confidence", "reused"} <= set(
            ocr.output_schema["properties"]
        )
        for name in ("get_ocr_status", "fetch_ocr_pages", "list_ocr_jobs", "search_ocr_text"):
            assert tools[name].annotations.read_only_hint is True, name
        assert tools["list_ocr_jobs"].input_schema["properties"]["limit"]["maximum"] == 200
        assert set(tools["export_ocr"].input_schema["properties"]["format"]["enum"]) >= {"txt", "pdf", "docx"}
        assert client.instructions and "ocr_document" in client.instructions


# -- ocr_document --------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_small_document_finishes_in_the_call_with_progress(mode, tmp_path, tmp):
    doc = make_pdf(tmp_path / "small report.pdf", 3)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    async with Client(server(), mode=mode) as client:
        out = await ok(client, "ocr_document", {"path": str(doc)}, progress_callback=on_progress)
        assert out["status"] == "completed"
        assert out["engine"] == "local"
        assert out["page_count"] == 3 and out["pages_done"] == 3
        assert out["reused"] is False
        assert out["text"] == "".join(expected_text(n) for n in (1, 2, 3))
        assert out["mean_confidence"] == pytest.approx((0.98 + 0.9 + 0.95 + 0.85) / 4, abs=1e-4)
        assert out["result_path"] == str(tmp / "small report.ocr.json")
        assert "result_path" in out["next_step"]
        data = assert_upstage_json(out["result_path"], pages=3)
        assert data["modelVersion"] == FAKE_MODEL_VERSION
        assert data["pages"][1]["text"] == expected_text(2)
        assert [w["id"] for p in data["pages"] for w in p["words"]] == list(range(12))
    assert progress, "no progress notification arrived"
    assert progress[-1][0] == 3 and progress[-1][1] == 3
    assert [p for p, _t, _m in progress] == sorted(p for p, _t, _m in progress)


@pytest.mark.anyio
async def test_image_and_explicit_output_and_page_selection(tmp_path):
    png = make_png(tmp_path / "photo.png", 7)
    target = tmp_path / "out" / "mine.json"
    target.parent.mkdir()
    pdf = make_pdf(tmp_path / "doc.pdf", 9)
    async with Client(server()) as client:
        out = await ok(client, "ocr_document", {"path": str(png), "output": str(target)})
        assert out["status"] == "completed" and out["page_count"] == 1
        assert out["result_path"] == str(target)
        assert_upstage_json(target, pages=1)
        assert out["text"] == expected_text(7)

        # 3 selected pages of a 9-page PDF: small enough to finish in the call
        sel = await ok(client, "ocr_document", {"path": str(pdf), "pages": "2-3,8", "output": str(tmp_path)})
        assert sel["status"] == "completed" and sel["page_count"] == 3
        assert sel["result_path"] == str(tmp_path / "doc.ocr.json")
        fetched = await ok(client, "fetch_ocr_pages", {"job_id": sel["job_id"]})
        assert [(p["page"], p["source_page"]) for p in fetched["pages"]] == [(1, 2), (2, 3), (3, 8)]
        assert fetched["pages"][2]["text"] == expected_text(8)
        assert fetched["next_pages"] is None


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_large_document_runs_in_background_and_pages_can_be_read_while_it_runs(
    mode, tmp_path, monkeypatch, calls
):
    monkeypatch.setenv("UPSTAGE_OCR_FAKE_DELAY", "0.05")
    doc = make_pdf(tmp_path / "big.pdf", 24)
    async with Client(server(), mode=mode) as client:
        started = time.monotonic()
        out = await ok(client, "ocr_document", {"path": str(doc)})
        assert time.monotonic() - started < 5
        assert out["status"] in ("queued", "running")
        assert out["page_count"] == 24
        assert out["text"] is None and out["result_path"] is None
        assert "get_ocr_status" in out["next_step"]
        job_id = out["job_id"]

        # partial results while running
        deadline = time.monotonic() + 20
        while True:
            part = await ok(client, "fetch_ocr_pages", {"job_id": job_id, "pages": "1-24"})
            if part["pages"] and part["status"] == "running":
                break
            assert time.monotonic() < deadline and part["status"] != "completed", "never saw a partial result"
            await anyio.sleep(0.02)
        assert part["pages_total"] == 24
        assert 0 < len(part["pages"]) < 24
        for p in part["pages"]:
            assert p["text"] == expected_text(p["source_page"])
        st = await ok(client, "get_ocr_status", {"job_id": job_id})
        assert st["status"] == "running" and st["pages_total"] == 24 and st["result_path"] is None

        done = await wait_for(client, job_id)
        assert done["pages_done"] == 24
        assert_upstage_json(done["result_path"], pages=24)

        first = await ok(client, "fetch_ocr_pages", {"job_id": job_id})
        assert [p["page"] for p in first["pages"]] == list(range(1, 11))
        assert first["next_pages"] == "11-20"
        assert first["pages"][0]["words"] is None
        nxt = await ok(client, "fetch_ocr_pages", {"job_id": job_id, "pages": first["next_pages"]})
        assert [p["page"] for p in nxt["pages"]] == list(range(11, 21))
        assert nxt["next_pages"] == "21-24"
        last = await ok(
            client, "fetch_ocr_pages", {"job_id": job_id, "pages": "21-24", "include_words": True}
        )
        assert last["next_pages"] is None
        words = last["pages"][0]["words"]
        assert [w["text"] for w in words] == ["Page", "21", "hello", "world"]
        assert all(len(w["box"]) == 4 for w in words)
    assert sorted(recognised(calls)) == list(range(1, 25)), "every page recognised exactly once"


@pytest.mark.anyio
async def test_wait_flag_overrides_the_size_rule(tmp_path):
    async with Client(server(sync_page_limit=2)) as client:
        big = await ok(client, "ocr_document", {"path": str(make_pdf(tmp_path / "b.pdf", 4)), "wait": True})
        assert big["status"] == "completed" and big["pages_done"] == 4
        small = await ok(client, "ocr_document", {"path": str(make_png(tmp_path / "s.png")), "wait": False})
        assert small["status"] in ("queued", "running", "completed")
        await wait_for(client, small["job_id"])


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_same_file_and_options_reuse_the_job_and_force_reruns(mode, tmp_path, calls):
    doc = make_pdf(tmp_path / "twice.pdf", 2)
    async with Client(server(), mode=mode) as client:
        first = await ok(client, "ocr_document", {"path": str(doc)})
        again = await ok(client, "ocr_document", {"path": str(doc)})
        assert again["job_id"] == first["job_id"]
        assert again["reused"] is True and again["status"] == "completed"
        assert again["text"] == first["text"] and again["result_path"] == first["result_path"]
        assert recognised(calls) == [1, 2] or sorted(recognised(calls)) == [1, 2]

        # a copy of the same bytes under another name is the same document
        copy = tmp_path / "copy.pdf"
        copy.write_bytes(doc.read_bytes())
        same = await ok(client, "ocr_document", {"path": str(copy)})
        assert same["reused"] is True and same["job_id"] == first["job_id"]

        other = await ok(client, "ocr_document", {"path": str(doc), "lang": "ko"})
        assert other["job_id"] != first["job_id"] and other["reused"] is False

        forced = await ok(client, "ocr_document", {"path": str(doc), "force": True})
        assert forced["job_id"] not in (first["job_id"], other["job_id"])
        assert forced["reused"] is False and forced["status"] == "completed"
        assert len(recognised(calls)) == 6

        jobs = (await ok(client, "list_ocr_jobs", {}))["jobs"]
        assert [j["job_id"] for j in jobs] == [forced["job_id"], other["job_id"], first["job_id"]]
        assert all(j["status"] == "completed" and j["result_path"] for j in jobs)
        assert [j["job_id"] for j in (await ok(client, "list_ocr_jobs", {"limit": 1}))["jobs"]] == [
            forced["job_id"]
        ]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_page_resource(mode, tmp_path):
    doc = make_pdf(tmp_path / "r.pdf", 3)
    async with Client(server(), mode=mode) as client:
        job_id = (await ok(client, "ocr_document", {"path": str(doc)}))["job_id"]
        res = await client.read_resource(f"ocr://jobs/{job_id}/pages/2")
        assert res.contents[0].text == expected_text(2)  # type: ignore[union-attr]
        with pytest.raises(Exception, match=r"not available|page"):
            await client.read_resource(f"ocr://jobs/{job_id}/pages/9")


# -- errors --------------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_actionable_errors(mode, tmp_path):
    big = tmp_path / "huge.pdf"
    with big.open("wb") as fh:
        fh.write(b"%PDF-1.4\n")
        fh.truncate(51 * 1024 * 1024)
    async with Client(server(), mode=mode) as client:
        for tool, args in [
            ("get_ocr_status", {"job_id": "nope"}),
            ("fetch_ocr_pages", {"job_id": "nope"}),
            ("export_ocr", {"job_id": "nope", "format": "txt"}),
            ("search_ocr_text", {"job_id": "nope", "query": "x"}),
            ("render_ocr_page", {"job_id": "nope"}),
        ]:
            msg = await err(client, tool, args)
            assert "no job with id 'nope'" in msg and "list_ocr_jobs" in msg, (tool, msg)

        missing = tmp_path / "missing.pdf"
        msg = await err(client, "ocr_document", {"path": str(missing)})
        assert "file not found" in msg and str(missing) in msg and "[file_missing]" in msg

        msg = await err(client, "ocr_document", {"path": str(big), "engine": "local"})
        assert "50 MB" in msg and "[too_large]" in msg

        msg = await err(
            client, "ocr_document", {"path": str(make_png(tmp_path / "a.png")), "engine": "upstage"}
        )
        assert "UPSTAGE_API_KEY" in msg and "local" in msg and "[unauthorized]" in msg

        bad = tmp_path / "notes.pdf"
        bad.write_text("just text, not a pdf")
        msg = await err(client, "ocr_document", {"path": str(bad)})
        assert "notes.pdf" in msg

        msg = await err(
            client, "ocr_document", {"path": str(make_pdf(tmp_path / "p.pdf", 2)), "pages": "5-9"}
        )
        assert "[bad_page_range]" in msg

        # malformed arguments: pydantic validation, reported as a tool error naming the argument
        msg = await err(client, "list_ocr_jobs", {"limit": 0})
        assert "validation error" in msg and "limit" in msg
        msg = await err(client, "ocr_document", {"path": "x.pdf", "engine": "bogus"})
        assert "validation error" in msg and "engine" in msg
        msg = await err(client, "ocr_document", {})
        assert "validation error" in msg and "path" in msg
        msg = await err(client, "search_ocr_text", {"job_id": "x", "query": ""})
        assert "validation error" in msg and "query" in msg

        # nothing failed silently into the store
        assert (await ok(client, "list_ocr_jobs", {}))["jobs"] == []


@pytest.mark.anyio
async def test_export_of_unfinished_job_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("UPSTAGE_OCR_FAKE_DELAY", "0.2")
    async with Client(server()) as client:
        out = await ok(client, "ocr_document", {"path": str(make_pdf(tmp_path / "slow.pdf", 12))})
        msg = await err(client, "export_ocr", {"job_id": out["job_id"], "format": "txt"})
        assert "not finished" in msg and "get_ocr_status" in msg


# -- exports, search, render ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_export_search_and_render(mode, tmp_path, tmp):
    pytest.importorskip("upstage_ocr.output.writers")
    pytest.importorskip("upstage_ocr.output.search")
    doc = make_pdf(tmp_path / "exp.pdf", 3)
    async with Client(server(), mode=mode) as client:
        job_id = (await ok(client, "ocr_document", {"path": str(doc)}))["job_id"]

        txt = await ok(client, "export_ocr", {"job_id": job_id, "format": "txt"})
        assert txt["paths"] == [str(tmp / "exp.txt")]
        assert "Page 2" in Path(txt["paths"][0]).read_text()

        out_dir = tmp_path / "exports"
        out_dir.mkdir()
        for fmt in ("md", "json", "csv", "docx", "hocr", "pdf"):
            res = await ok(client, "export_ocr", {"job_id": job_id, "format": fmt, "output": str(out_dir)})
            assert res["format"] == fmt and res["paths"], fmt
            for p in res["paths"]:
                assert Path(p).is_absolute() and Path(p).is_file() and Path(p).stat().st_size > 0, (fmt, p)
        js = await ok(client, "export_ocr", {"job_id": job_id, "format": "json", "output": str(out_dir)})
        assert_upstage_json(js["paths"][0], pages=3)
        ov = await ok(
            client,
            "export_ocr",
            {"job_id": job_id, "format": "overlay", "pages": "2", "output": str(out_dir)},
        )
        assert len(ov["paths"]) == 1 and ov["paths"][0].endswith(".png")

        hits = await ok(client, "search_ocr_text", {"job_id": job_id, "query": "page 3"})
        assert hits["hits"], hits
        assert hits["hits"][0]["page"] == 3
        assert len(hits["hits"][0]["box"]) == 4
        none = await ok(client, "search_ocr_text", {"job_id": job_id, "query": "zebra crossing"})
        assert none["hits"] == [] or all(h["score"] < 100 for h in none["hits"])

        img = await client.call_tool("render_ocr_page", {"job_id": job_id, "page": 2})
        assert img.is_error is False
        block = img.content[0]
        assert block.type == "image" and block.mime_type == "image/png"  # type: ignore[union-attr]
        import base64

        assert base64.b64decode(block.data)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]
        msg = await err(client, "render_ocr_page", {"job_id": job_id, "page": 9})
        assert "9" in msg and "[bad_page_range]" in msg


# -- the real local engine (one small image) ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.slow
async def test_real_local_engine_on_check_box(fixtures_dir, tmp):
    pytest.importorskip("upstage_ocr.jobs.local_backend")
    from upstage_ocr.engines.base import override_engines

    with override_engines({}):  # the registered engines, not the fake one
        async with Client(server()) as client:
            out = await ok(client, "ocr_document", {"path": str(fixtures_dir / "check_box.png")})
    assert out["status"] == "completed" and out["engine"] == "local"
    assert out["result_path"] == str(tmp / "check_box.ocr.json")
    data = assert_upstage_json(out["result_path"], pages=1)
    golden = json.loads((fixtures_dir / "check_box.json").read_text())
    got = {w["text"].lower() for w in data["pages"][0]["words"]}
    want = {w["text"].lower() for w in golden["pages"][0]["words"]}
    assert len(got & want) >= len(want) // 2, (got, want)
    assert 0 < out["mean_confidence"] <= 1


# -- the Upstage backend (tests/fake_upstage.py) ---------------------------------------------------------------


@pytest.fixture
def fake():
    from fake_upstage import FakeUpstage

    return FakeUpstage()


def upstage_server(fake, **overrides: Any):
    from fake_upstage import DEFAULT_KEY

    settings = Settings.load(api_key=DEFAULT_KEY, rate_limit=1000.0, **overrides)
    return build_server(settings, transport=fake.transport())


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstage_small_document_sync_and_idempotent(mode, fake, tmp_path, tmp):
    from fake_upstage import DEFAULT_MODEL_VERSION

    doc = make_pdf(tmp_path / "cloud.pdf", 3)
    async with Client(upstage_server(fake), mode=mode) as client:
        out = await ok(client, "ocr_document", {"path": str(doc)})
        assert out["status"] == "completed" and out["engine"] == "upstage"
        assert out["page_count"] == 3
        assert out["text"].startswith("Fake OCR page 1 \n")
        assert 0.9 <= out["mean_confidence"] <= 1
        assert out["result_path"] == str(tmp / "cloud.ocr.json")
        data = assert_upstage_json(out["result_path"], pages=3)
        assert data["modelVersion"] == DEFAULT_MODEL_VERSION and data["numBilledPages"] == 3
        assert fake.sync_calls == 1 and fake.submits == 0
        upload = fake.calls_to("sync")[0]
        assert upload.fields["model"] == "ocr" and upload.files["document"].filename == "cloud.pdf"

        again = await ok(client, "ocr_document", {"path": str(doc)})
        assert again["reused"] is True and again["job_id"] == out["job_id"] and again["text"] == out["text"]
        assert fake.sync_calls == 1, "an identical request is never uploaded (or paid for) twice"

        forced = await ok(client, "ocr_document", {"path": str(doc), "force": True})
        assert forced["reused"] is False and forced["job_id"] != out["job_id"]
        assert fake.sync_calls == 2

        local = await ok(client, "ocr_document", {"path": str(doc), "engine": "local"})
        assert local["engine"] == "local" and local["text"].startswith("Page 1")
        assert fake.sync_calls == 2


@pytest.mark.anyio
async def test_upstage_golden_fixture_round_trips(fake, fixtures_dir):
    async with Client(upstage_server(fake)) as client:
        out = await ok(client, "ocr_document", {"path": str(fixtures_dir / "check_box.png")})
    golden = json.loads((fixtures_dir / "check_box.json").read_text())
    data = assert_upstage_json(out["result_path"], pages=1)
    assert out["text"] == golden["text"]
    assert data["pages"][0]["words"] == golden["pages"][0]["words"]
    assert data["confidence"] == golden["confidence"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstage_async_job_in_background_with_partial_fetch(mode, tmp_path, monkeypatch):
    from fake_upstage import FakeUpstage

    fast_polling(monkeypatch)
    fake = FakeUpstage(seconds_per_batch=0.1)
    doc = make_pdf(tmp_path / "long.pdf", 120)
    async with Client(upstage_server(fake), mode=mode) as client:
        out = await ok(client, "ocr_document", {"path": str(doc)})
        assert out["status"] in ("queued", "running") and out["page_count"] == 120
        job_id = out["job_id"]
        deadline = time.monotonic() + 20
        while True:
            st = await ok(client, "get_ocr_status", {"job_id": job_id})
            if 0 < st["pages_done"] < 120:
                break
            assert time.monotonic() < deadline and st["status"] != "completed", st
            await anyio.sleep(0.02)
        assert st["status"] == "running" and st["batches"]
        assert {b["status"] for b in st["batches"]} & {"stored"}
        part = await ok(client, "fetch_ocr_pages", {"job_id": job_id, "pages": "1-10"})
        assert [p["page"] for p in part["pages"]] == list(range(1, 11))
        assert part["next_pages"] == "11-20"
        assert part["pages"][4]["text"].startswith("Fake OCR page 5 \n")

        done = await wait_for(client, job_id)
        assert done["pages_done"] == 120 and len(done["batches"]) == 12
        assert all(b["status"] == "stored" for b in done["batches"])
        data = assert_upstage_json(done["result_path"], pages=120)
        assert data["pages"][119]["text"].startswith("Fake OCR page 120 \n")
        assert [p["id"] for p in data["pages"]] == list(range(120))
    assert fake.submits == 1 and fake.sync_calls == 0
    assert sorted(downloaded_batches(fake)) == list(range(12)), "each batch downloaded exactly once"


@pytest.mark.anyio
async def test_upstage_async_progress_when_waiting(tmp_path, monkeypatch):
    from fake_upstage import FakeUpstage

    fast_polling(monkeypatch)
    fake = FakeUpstage(seconds_per_batch=0.02)
    progress: list[tuple[float, float | None]] = []

    async def on_progress(p: float, total: float | None, _message: str | None) -> None:
        progress.append((p, total))

    async with Client(upstage_server(fake)) as client:
        out = await ok(
            client,
            "ocr_document",
            {"path": str(make_pdf(tmp_path / "w.pdf", 105)), "wait": True},
            progress_callback=on_progress,
        )
    assert out["status"] == "completed" and out["pages_done"] == 105
    assert progress and progress[-1] == (105, 105)
    assert len(progress) >= 2


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstage_errors_are_actionable(mode, fake, tmp_path, monkeypatch):
    from fake_upstage import DEFAULT_KEY

    monkeypatch.setattr("upstage_ocr.upstage.client.BACKOFF_BASE", 0.01)

    doc = make_png(tmp_path / "k.png")
    async with Client(upstage_server(fake, max_retries=2), mode=mode) as client:
        fake.api_key = "up_another_key_0000000000"  # the server's key is refused: 401
        msg = await err(client, "ocr_document", {"path": str(doc)})
        assert "UPSTAGE_API_KEY" in msg and "engine='local'" in msg and "[unauthorized]" in msg
        assert DEFAULT_KEY not in msg
        job_id = re.search(r"\(job ([0-9a-f]+)\)", msg).group(1)  # type: ignore[union-attr]
        st = await ok(client, "get_ocr_status", {"job_id": job_id})
        assert st["status"] == "failed" and "UPSTAGE_API_KEY" in st["error"]

        fake.api_key = DEFAULT_KEY
        fake.fail_next(2, 500)  # as many as the client tries
        msg = await err(client, "ocr_document", {"path": str(doc)})
        assert "[server_error]" in msg
        assert fake.sync_calls >= 1
        fixed = await ok(client, "ocr_document", {"path": str(doc)})  # a failed job is never reused
        assert fixed["status"] == "completed" and fixed["reused"] is False


@pytest.mark.anyio
async def test_upstage_over_real_http(tmp_path, monkeypatch):
    """The same server against the fake as a real HTTP server (UPSTAGE_BASE_URL), no transport injected."""
    from fake_upstage import DEFAULT_KEY, FakeUpstage

    fast_polling(monkeypatch)
    fake = FakeUpstage(seconds_per_batch=0.02)
    with fake.serve() as base_url:
        monkeypatch.setenv("UPSTAGE_BASE_URL", base_url)
        monkeypatch.setenv("UPSTAGE_API_KEY", DEFAULT_KEY)
        async with Client(build_server(Settings.load(rate_limit=1000.0))) as client:
            small = await ok(client, "ocr_document", {"path": str(make_pdf(tmp_path / "s.pdf", 2))})
            assert small["status"] == "completed" and small["engine"] == "upstage"
            big = await ok(client, "ocr_document", {"path": str(make_pdf(tmp_path / "b.pdf", 101))})
            assert big["status"] in ("queued", "running")
            done = await wait_for(client, big["job_id"])
            assert_upstage_json(done["result_path"], pages=101)
    assert fake.sync_calls == 1 and fake.submits == 1
    assert sorted(downloaded_batches(fake)) == list(range(11))
    assert all(c.headers.get("authorization") == f"Bearer {DEFAULT_KEY}" for c in fake.calls_to("sync"))
    assert all("authorization" not in c.headers for c in fake.calls_to("download"))
