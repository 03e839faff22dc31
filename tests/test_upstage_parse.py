"""Document Parse on the Upstage API (upstage/parse.py) against the fake API: in-process and over loopback HTTP."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path
from typing import Any

import anyio
import httpx
import pikepdf
import pytest

import fake_parse
from fake_upstage import DEFAULT_KEY, FakeClock, FakeUpstage
from upstage_ocr import errors
from upstage_ocr.parse_models import Element, ParseResult
from upstage_ocr.settings import Settings
from upstage_ocr.upstage import UpstageClient
from upstage_ocr.upstage.parse import (
    ParseOptions,
    batch_elements,
    check_limits,
    join_batches,
    map_pages,
    parse_sync,
    rewrite_ids,
    submit_parse,
    use_async,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.upstage.test/v1"
ALL = ParseOptions(output_formats=("html", "markdown", "text"))


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_key": DEFAULT_KEY,
        "base_url": BASE,
        "home": Path("/nonexistent-home"),
        "rate_limit": 1e6,
        "max_retries": 4,
    }
    values.update(overrides)
    return Settings(**values)


def client_for(fake: FakeUpstage, clock: FakeClock | None = None, **overrides: Any) -> UpstageClient:
    clock = clock or FakeClock()
    return UpstageClient(
        settings(**overrides),
        transport=fake.transport(),
        sleep=clock.sleep,
        clock=clock,
        backoff_base=0.01,
        rng=random.Random(3),
    )


def blank_pdf(pages: int, width: float = 612) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(width, 792))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def expected(pdf: bytes, pages: int, options: ParseOptions = ALL) -> dict[str, Any]:
    """What the fake's parse of the whole document is in one piece: the oracle a join must reproduce."""
    import hashlib

    req = fake_parse.ParseRequest.from_fields(options.form_fields(), hashlib.sha256(pdf).hexdigest())
    return fake_parse.envelope(req, range(1, pages + 1), fake_parse.DEFAULT_VERSION)


class Batches:
    """Collects (batch status entry, downloaded JSON) as `follow_async` hands them over."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def on_batch(self, meta: dict[str, Any], data: dict[str, Any]) -> None:
        self.got.append((meta, data))


# --------------------------------------------------------------------------------------------------------
# Options and the request


def test_options_validate_and_serialise() -> None:
    opts = ParseOptions(
        output_formats=("Markdown", "html", "markdown"),
        ocr="force",
        coordinates=False,
        base64_encoding=("table", "figure"),
        mode="enhanced",
        merge_multipage_tables=True,
    )
    assert opts.output_formats == ("html", "markdown")  # one canonical order: the contract's
    fields = opts.form_fields()
    assert json.loads(fields["output_formats"]) == ["html", "markdown"]
    assert json.loads(fields["base64_encoding"]) == ["table", "figure"]
    assert fields["coordinates"] == "false" and fields["chart_recognition"] == "true"
    assert fields["merge_multipage_tables"] == "true" and fields["mode"] == "enhanced"
    assert "base64_encoding" not in ParseOptions().form_fields()
    assert ParseOptions.from_identity(opts.identity()) == opts
    # the key does not depend on the order formats were given in
    assert ParseOptions(output_formats=("text", "html")) == ParseOptions(output_formats=("html", "text"))
    for bad, match in [
        ({"output_formats": ("pdf",)}, "unknown output format 'pdf'"),
        ({"output_formats": ()}, "no output format"),
        ({"ocr": "always"}, "unknown ocr mode"),
        ({"mode": "fast"}, "unknown parse mode"),
        ({"base64_encoding": ("photo",)}, "base64_encoding category"),
    ]:
        with pytest.raises(errors.ConfigError, match=match) as info:
            ParseOptions(**bad)
        assert "\n" not in str(info.value)


async def test_sync_parse_request_shape_and_response() -> None:
    fake = FakeUpstage()
    pdf = blank_pdf(3)
    opts = ParseOptions(output_formats=("markdown", "text"), ocr="force", base64_encoding=("table",))
    async with client_for(fake) as client:
        raw = await parse_sync(client, pdf, filename="deck.pdf", options=opts)
    call = fake.calls_to("sync")[0]
    assert call.fields["model"] == "document-parse"
    assert call.fields["ocr"] == "force" and call.fields["output_formats"] == '["markdown", "text"]'
    assert call.fields["base64_encoding"] == '["table"]' and call.fields["coordinates"] == "true"
    assert call.files["document"].filename == "deck.pdf" and call.files["document"].data == pdf
    result = ParseResult.model_validate(raw)
    assert result.api == "2.0" and result.model == fake_parse.DEFAULT_VERSION and result.usage.pages == 3
    assert [e.id for e in result.elements] == list(range(len(result.elements)))
    assert sorted({e.page for e in result.elements}) == [1, 2, 3]
    heading = result.elements[0]
    assert heading.category == "heading1" and heading.content.markdown == "# Fake parse page 1"
    assert heading.content.html == ""  # not requested
    assert result.content.html == "" and "| Item | Qty | Price |" in result.content.markdown
    assert all(0 <= v.x <= 1 and 0 <= v.y <= 1 for e in result.elements for v in e.coordinates)
    tables = [e for e in result.elements if e.category == "table"]
    assert base64.b64decode(tables[0].model_extra["base64_encoding"]).startswith(b"\x89PNG")
    assert all(
        "base64_encoding" not in (e.model_extra or {}) for e in result.elements if e.category != "table"
    )


async def test_fake_reads_python_repr_lists_and_rejects_bad_fields() -> None:
    fake = FakeUpstage()
    pdf = blank_pdf(3)
    async with httpx.AsyncClient(transport=fake.transport(), base_url=BASE) as http:

        async def post(**fields: str) -> httpx.Response:
            data = {"model": "document-parse", **fields}
            files = {"document": ("a.pdf", pdf, "application/pdf")}
            headers = {"Authorization": f"Bearer {DEFAULT_KEY}"}
            return await http.post("/document-digitization", data=data, files=files, headers=headers)

        ok = (await post(output_formats="['text']", coordinates="False", chart_recognition="False")).json()
        bad_format = await post(output_formats="['pdf']")
        bad_bool = await post(coordinates="maybe")
        bad_model = await post(model="document-parse-x")
    assert ok["content"]["text"] and ok["content"]["html"] == ""
    assert all("coordinates" not in e for e in ok["elements"])
    chart = next(e for e in ok["elements"] if e["category"] == "chart")
    assert chart["content"]["text"] == ""  # no chart recognition: an image, not a table
    assert bad_format.status_code == bad_bool.status_code == bad_model.status_code == 400
    assert "output_formats" in bad_format.json()["error"]["message"]


async def test_parse_errors_are_one_line_and_mapped() -> None:
    fake = FakeUpstage()
    async with client_for(fake) as client:
        with pytest.raises(errors.UnsupportedFormatError) as info:
            await parse_sync(client, b"plain text, not a document", filename="a.txt", options=ALL)
        fake.max_bytes = 10
        with pytest.raises(errors.FileTooLargeError) as big:
            await parse_sync(client, blank_pdf(1), filename="a.pdf", options=ALL)
    assert "\n" not in str(info.value) and "status=415" in str(info.value)
    assert "\n" not in str(big.value) and "the parse request" in str(big.value)


async def test_a_response_of_another_shape_is_a_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"api": "2.0", "elements": [{"category": "paragraph"}]})

    async with UpstageClient(settings(), transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(errors.ServerError, match=r"unexpected shape \(elements\.0\.id"):
            await parse_sync(client, b"%PDF-1.4", filename="a.pdf", options=ALL)


def test_limits_are_settings() -> None:
    default = settings()
    assert not use_async(default, 100) and use_async(default, 101) and not use_async(default, None)
    check_limits(default, "a.pdf", 1000, 50 * 1024 * 1024)
    with pytest.raises(errors.FileTooLargeError, match=r"1001 pages; .* at most 1000") as info:
        check_limits(default, "a.pdf", 1001, 10)
    assert info.value.exit_code == errors.FileTooLargeError("x").exit_code
    with pytest.raises(errors.FileTooLargeError, match="at most 50 MB"):
        check_limits(default, "a.pdf", 1, 50 * 1024 * 1024 + 1)
    newer = Settings.load({"UPSTAGE_PARSE_ASYNC_PAGES": "2000", "UPSTAGE_PARSE_MAX_MB": "500"}, api_key="k")
    check_limits(newer, "a.pdf", 2000, 400 * 1024 * 1024)
    with pytest.raises(errors.ConfigError, match="UPSTAGE_PARSE_SYNC_PAGES"):
        Settings.load({"UPSTAGE_PARSE_SYNC_PAGES": "0"})


# --------------------------------------------------------------------------------------------------------
# Retries, limiter, no double billing


async def test_sync_parse_retries_429_and_5xx() -> None:
    fake = FakeUpstage()
    fake.fail_next(1, 429, endpoint="sync", retry_after=2)
    fake.fail_next(1, 502, endpoint="sync")
    fake.fail_next(1, "reset", endpoint="sync")
    clock = FakeClock()
    async with client_for(fake, clock) as client:
        raw = await parse_sync(client, blank_pdf(2), filename="a.pdf", options=ALL)
    assert fake.sync_calls == 4 and raw["usage"] == {"pages": 2}
    assert 2.0 in clock.slept  # Retry-After honoured


async def test_async_parse_submit_is_never_repeated_after_an_ambiguous_failure() -> None:
    fake = FakeUpstage()
    pdf = blank_pdf(12)
    async with client_for(fake) as client:
        fake.fail_next(1, "timeout", endpoint="submit")
        with pytest.raises(errors.APITimeoutError, match="async parse submit"):
            await submit_parse(client, pdf, filename="a.pdf", options=ALL)
        assert fake.submits == 1
        fake.fail_next(1, 503, endpoint="submit")  # a 5xx was not accepted: retried
        request_id = await submit_parse(client, pdf, filename="a.pdf", options=ALL)
    assert fake.submits == 3 and fake.job_ids() == [request_id]
    submitted = fake.calls_to("submit")[-1]
    assert submitted.fields["model"] == "document-parse" and submitted.fields["output_formats"]


# --------------------------------------------------------------------------------------------------------
# Async: batches joined in order


async def test_async_250_pages_with_expiring_urls_429s_and_5xx_joins_to_the_whole() -> None:
    clock = FakeClock()
    fake = FakeUpstage(clock=clock, seconds_per_batch=3, url_ttl=900)
    pdf = blank_pdf(250)
    fake.fail_next(2, 429, endpoint="status")
    fake.fail_next(1, 503, endpoint="download")
    polls = 0

    async def on_status(status: dict[str, Any]) -> None:
        nonlocal polls
        polls += 1
        if polls == 5:
            clock.advance(1000)  # the URLs of this status expire before they are used

    got = Batches()
    async with client_for(fake, clock) as client:
        request_id = await submit_parse(client, pdf, filename="big.pdf", options=ALL)
        status = await client.follow_async(
            request_id, done_batches=set(), on_batch=got.on_batch, on_status=on_status, poll_interval=1
        )
    assert status["status"] == "completed" and status["total_pages"] == 250 and len(status["batches"]) == 25
    assert fake.submits == 1 and fake.rate_limited == 2 and fake.expired_downloads >= 1
    assert len(got.got) == 25  # every batch downloaded exactly once into the callback
    joined = join_batches(reversed(got.got))  # order of arrival does not matter
    whole = expected(pdf, 250)
    assert joined.to_json_dict() == ParseResult.model_validate(whole).to_json_dict()
    assert [e.id for e in joined.elements] == list(range(len(joined.elements)))
    assert joined.usage.pages == 250 and joined.elements[-1].page == 250
    page_11 = [e for e in joined.elements if e.page == 11]
    assert page_11[0].content.text == "Fake parse page 11"
    assert f"id='{page_11[0].id}'" in page_11[0].content.html


async def test_batch_relative_pages_are_made_absolute() -> None:
    clock = FakeClock()
    fake = FakeUpstage(clock=clock, relative_batch_ids=True)
    pdf = blank_pdf(23)
    got = Batches()
    async with client_for(fake, clock) as client:
        request_id = await submit_parse(client, pdf, filename="a.pdf", options=ALL)
        await client.follow_async(request_id, done_batches=set(), on_batch=got.on_batch)
    last_meta, last_data = got.got[-1]
    assert {e["page"] for e in last_data["elements"]} == {1, 2, 3}  # the fake numbered them per batch
    assert {e.page for e in batch_elements(last_data, int(last_meta["start_page"]))} == {21, 22, 23}
    joined = join_batches(got.got)
    assert joined.to_json_dict() == ParseResult.model_validate(expected(pdf, 23)).to_json_dict()


async def test_resumed_follow_downloads_only_missing_batches_and_never_resubmits() -> None:
    clock = FakeClock()
    fake = FakeUpstage(clock=clock)
    pdf = blank_pdf(35)
    first = Batches()
    async with client_for(fake, clock) as client:
        request_id = await submit_parse(client, pdf, filename="a.pdf", options=ALL)

        async def crash_on_third(meta: dict[str, Any], data: dict[str, Any]) -> None:
            if meta["id"] == 2:
                raise RuntimeError("killed")
            await first.on_batch(meta, data)

        done: set[int] = set()
        with pytest.raises(RuntimeError):
            await client.follow_async(request_id, done_batches=done, on_batch=crash_on_third)
    assert done == {0, 1}
    second = Batches()
    async with client_for(fake, clock) as client:  # a new process: only the request id survived
        await client.follow_async(request_id, done_batches=done, on_batch=second.on_batch)
    assert [m["id"] for m, _ in second.got] == [2, 3] and fake.submits == 1
    joined = join_batches(first.got + second.got)
    assert joined.to_json_dict() == ParseResult.model_validate(expected(pdf, 35)).to_json_dict()


async def test_failed_batch_leaves_a_gap_the_caller_sees() -> None:
    clock = FakeClock()
    fake = FakeUpstage(clock=clock, failed_batches={1}, seconds_per_batch=1)
    got = Batches()
    async with client_for(fake, clock) as client:
        request_id = await submit_parse(client, blank_pdf(25), filename="a.pdf", options=ALL)
        status = await client.follow_async(request_id, done_batches=set(), on_batch=got.on_batch)
    assert [b["status"] for b in status["batches"]] == ["completed", "failed", "completed"]
    joined = join_batches(got.got)
    assert sorted({e.page for e in joined.elements}) == list(range(1, 11)) + list(range(21, 26))
    assert [e.id for e in joined.elements] == list(range(len(joined.elements)))


async def test_250_page_async_parse_over_real_http() -> None:
    fake = FakeUpstage(rps_limit=40, retry_after=0.05, seconds_per_batch=0.02, url_ttl=0.3)
    pdf = blank_pdf(250)
    fake.fail_next(1, 429, endpoint="status", retry_after=0.05)
    fake.fail_next(1, 500, endpoint="status")
    fake.fail_next(1, 502, endpoint="download")
    got = Batches()
    slow_once = True

    async def on_status(status: dict[str, Any]) -> None:
        nonlocal slow_once
        if slow_once and any(b["download_url"] for b in status["batches"]):
            slow_once = False
            await anyio.sleep(0.4)  # long enough for these URLs to expire

    with fake.serve() as base_url:
        async with UpstageClient(
            settings(base_url=base_url, rate_limit=30.0, max_retries=5), backoff_base=0.01
        ) as client:
            request_id = await submit_parse(client, pdf, filename="big.pdf", options=ALL)
            status = await client.follow_async(
                request_id,
                done_batches=set(),
                on_batch=got.on_batch,
                on_status=on_status,
                poll_interval=0.05,
                max_poll_interval=0.2,
            )
    assert status["status"] == "completed" and fake.submits == 1 and fake.expired_downloads >= 1
    assert fake.injected == 3 and fake.rate_limited >= 1 and len(got.got) == 25
    assert all("authorization" not in c.headers for c in fake.calls_to("download"))
    joined = join_batches(got.got)
    assert joined.to_json_dict() == ParseResult.model_validate(expected(pdf, 250)).to_json_dict()
    markdown = joined.content.markdown
    assert markdown.index("# Fake parse page 9") < markdown.index("# Fake parse page 10")
    assert markdown.count("| Item | Qty | Price |") == 250


# --------------------------------------------------------------------------------------------------------
# Helpers


def test_rewrite_ids_touches_only_tag_id_attributes() -> None:
    html = "<h1 id='0' style='x'>id='0' stays</h1>\n<table id=\"1\"><tr><td>1</td></tr></table><p id=7>z</p>"
    out = rewrite_ids(html, {0: 40, 1: 41})
    assert (
        out
        == "<h1 id='40' style='x'>id='0' stays</h1>\n<table id=\"41\"><tr><td>1</td></tr></table><p id=7>z</p>"
    )


def test_map_pages_for_a_subset_upload() -> None:
    elements = [Element(category="paragraph", id=i, page=p) for i, p in enumerate([1, 1, 2, 3])]
    mapped = map_pages(elements, [5, 9])
    assert [(e.id, e.page) for e in mapped] == [(0, 5), (1, 5), (2, 9)]
