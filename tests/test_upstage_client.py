"""UpstageClient against httpx.MockTransport and the fake Upstage API (in-process and served on loopback)."""

from __future__ import annotations

import io
import json
import logging
import random
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pikepdf
import pytest

from fake_upstage import DEFAULT_KEY, FakeClock, FakeUpstage
from upstage_ocr import errors, models
from upstage_ocr.settings import Settings
from upstage_ocr.upstage import (
    RateLimiter,
    UpstageClient,
    batch_pages,
    pacing,
    parse_error_body,
    parse_retry_after,
    pdf_subset,
    result_from_pages,
)
from upstage_ocr.upstage import client as client_mod

pytestmark = pytest.mark.anyio

KEY = DEFAULT_KEY
BASE = "https://api.upstage.test/v1"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_key": KEY,
        "base_url": BASE,
        "home": Path("/nonexistent-home"),
        "rate_limit": 1e6,
        "max_retries": 4,
    }
    values.update(overrides)
    return Settings(**values)


class Sleeps:
    """An instant `sleep` that records the waits asked for (not the rate limiter's microsecond spacing)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        if seconds > 1e-4:
            self.calls.append(seconds)
        await anyio.sleep(0)


def make_client(
    transport: httpx.AsyncBaseTransport, sleeps: Sleeps | None = None, **overrides: Any
) -> UpstageClient:
    return UpstageClient(
        make_settings(**overrides),
        transport=transport,
        sleep=sleeps or Sleeps(),
        backoff_base=0.01,
        rng=random.Random(7),  # jitter stays well above the 1e-4 s Sleeps ignores
    )


def error_transport(status: int, body: Any = None, headers: dict[str, str] | None = None):
    """A MockTransport answering every request with `status`; returns (transport, call list)."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        payload = (
            body if body is not None else {"error": {"message": f"boom {status}", "type": "x", "code": "x"}}
        )
        return httpx.Response(status, json=payload, headers=headers)

    return httpx.MockTransport(handler), calls


def multi_pdf(fixtures_dir: Path, pages: int) -> bytes:
    """A `pages`-page PDF made from the 3 pages of multi_page.pdf (not byte-equal to the golden input)."""
    return pdf_subset(fixtures_dir / "multi_page.pdf", [(i % 3) + 1 for i in range(pages)])


# --------------------------------------------------------------------------------------------------------
# Request shape


async def test_sync_request_shape_and_golden_result(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    async with make_client(fake.transport()) as client:
        result = await client.ocr_sync(fixtures_dir / "check_box.png", filename="check_box.png")
    call = fake.calls_to("sync")[0]
    assert call.method == "POST" and call.path == "/v1/document-digitization"
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.fields == {"model": "ocr"}  # no schema field when schema is None
    doc = call.files["document"]
    assert doc.filename == "check_box.png" and doc.content_type == "image/png"
    assert doc.data == (fixtures_dir / "check_box.png").read_bytes()
    assert result == json.loads((fixtures_dir / "check_box.json").read_text())
    assert "Pizza" in result["text"]


async def test_schema_and_pinned_model_are_sent(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    async with make_client(fake.transport()) as client:
        clova = await client.ocr_sync(fixtures_dir / "check_box.png", filename="a/b/scan.png", schema="clova")
        google = await client.ocr_sync(
            (fixtures_dir / "dpi_150.jpg").read_bytes(),
            filename="dpi.jpg",
            model="ocr-250904",
            schema="google",
        )
    first, second = fake.calls_to("sync")
    assert (
        first.fields == {"model": "ocr", "schema": "clova"} and first.files["document"].filename == "scan.png"
    )
    assert second.fields == {"model": "ocr-250904", "schema": "google"}
    assert second.files["document"].content_type == "image/jpeg"
    assert clova["version"] == "V2" and clova["images"][0]["fields"][0]["inferText"]
    assert google["responses"][0]["fullTextAnnotation"]["text"]


async def test_synthetic_result_follows_the_envelope_rules(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    async with make_client(fake.transport()) as client:
        data = await client.ocr_sync(multi_pdf(fixtures_dir, 4), filename="four.pdf")
    result = models.OCRResult.model_validate(data)
    assert data["apiVersion"] == "1.1" and data["modelVersion"] == "ocr-260930"
    assert data["mimeType"] == "multipart/form-data" and data["numBilledPages"] == 4
    assert [p.id for p in result.pages] == [0, 1, 2, 3]
    ids = [w.id for p in result.pages for w in p.words]
    assert ids == list(range(len(ids)))
    for page in result.pages:
        assert page.confidence == round(sum(w.confidence for w in page.words) / len(page.words), 4)
        assert " \n" in page.text and not page.text.endswith((" ", "\n"))
    assert result.confidence == min(p.confidence for p in result.pages)
    assert result.text == "".join(p.text for p in result.pages)
    assert (result.pages[0].width, result.pages[0].height) == (1242, 1755)  # 150 DPI, as the real capture


async def test_missing_key_fails_before_any_request() -> None:
    fake = FakeUpstage()
    async with make_client(fake.transport(), api_key=None) as client:
        with pytest.raises(errors.AuthenticationError) as info:
            await client.ocr_sync(b"x", filename="x.png")
        with pytest.raises(errors.AuthenticationError):
            await client.get_request("abc")
    assert errors.NO_KEY_HINT in str(info.value)
    assert fake.calls == []


async def test_get_request_encodes_the_id_and_maps_404() -> None:
    fake = FakeUpstage()
    async with make_client(fake.transport()) as client:
        with pytest.raises(errors.BadRequestError, match="status=404"):
            await client.get_request("a/b c?")
        assert (await client.list_requests()) == {"requests": []}
    assert fake.calls[0].path.endswith("/requests/a%2Fb%20c%3F")


# --------------------------------------------------------------------------------------------------------
# Error mapping and retries


@pytest.mark.parametrize(
    ("status", "cls", "exit_code", "retried"),
    [
        (400, errors.BadRequestError, 12, False),
        (401, errors.AuthenticationError, 10, False),
        (402, errors.CreditError, 11, False),
        (403, errors.CreditError, 11, False),
        (404, errors.BadRequestError, 12, False),
        (405, errors.BadRequestError, 12, False),
        (413, errors.FileTooLargeError, 4, False),
        (415, errors.UnsupportedFormatError, 3, False),
        (422, errors.CorruptDocumentError, 5, False),
        (429, errors.RateLimitError, 13, True),
        (500, errors.ServerError, 14, True),
        (502, errors.ServerError, 14, True),
        (503, errors.ServerError, 14, True),
        (504, errors.ServerError, 14, True),
    ],
)
async def test_status_mapping(status: int, cls: type[errors.OCRError], exit_code: int, retried: bool) -> None:
    transport, calls = error_transport(status)
    sleeps = Sleeps()
    async with make_client(transport, sleeps, max_retries=3) as client:
        with pytest.raises(cls) as info:
            await client.ocr_sync(b"\x89PNG\r\n\x1a\n", filename="a.png")
    err = info.value
    assert type(err) is cls and err.exit_code == exit_code and err.status == status
    text = str(err)
    assert f"status={status}" in text and f"boom {status}" in text and "\n" not in text
    assert KEY not in text and KEY not in repr(err)
    assert len(calls) == (3 if retried else 1)
    assert len(sleeps.calls) == (2 if retried else 0)
    if status == 401:
        assert errors.NO_KEY_HINT in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"message": "invalid model name", "type": "invalid_request", "code": "bad_model"}},
            "invalid model name",
        ),
        ({"message": "top level message"}, "top level message"),
        ({"code": 400, "message": "code and message"}, "code and message"),
        ({"error": "just a string"}, "just a string"),
        ("plain text failure\nsecond line", "plain text failure second line"),
        ("<html><head><title>400 Bad Request</title></head><body>x</body></html>", "400 Bad Request"),
        ("", ""),
    ],
)
async def test_error_bodies_are_parsed_defensively(body: Any, expected: str) -> None:
    transport, _calls = error_transport(400, body)
    async with make_client(transport) as client:
        with pytest.raises(errors.BadRequestError) as info:
            await client.list_requests()
    assert expected in str(info.value) and "status=400" in str(info.value)
    assert "\n" not in str(info.value)


async def test_retries_then_succeeds_with_jittered_backoff(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    fake.fail_next(2, 503, endpoint="sync")
    sleeps = Sleeps()
    async with make_client(fake.transport(), sleeps) as client:
        result = await client.ocr_sync(fixtures_dir / "check_box.png", filename="check_box.png")
    assert "Pizza" in result["text"]
    assert fake.sync_calls == 3
    assert len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.01 and 0 <= sleeps.calls[1] <= 0.02  # full jitter under base * 2**n


async def test_retry_after_seconds_and_date_are_honoured(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    fake.fail_next(1, 429, endpoint="sync", retry_after=7)
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    fake.fail_next(1, 503, endpoint="sync", retry_after=when)
    fake.fail_next(1, 429, endpoint="sync", retry_after=100000)
    sleeps = Sleeps()
    async with make_client(fake.transport(), sleeps, max_retries=5) as client:
        await client.ocr_sync(fixtures_dir / "check_box.png", filename="check_box.png")
    assert sleeps.calls[0] == 7
    assert 25 <= sleeps.calls[1] <= 30
    assert sleeps.calls[2] == pacing.RETRY_AFTER_CAP
    assert fake.rate_limited == 2


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("99999") == pacing.RETRY_AFTER_CAP
    assert (
        parse_retry_after("soon") is None
        and parse_retry_after(None) is None
        and parse_retry_after("") is None
    )


async def test_too_many_requests_body_counts_as_429() -> None:
    body = {"error": {"message": "slow down", "type": "too_many_requests", "code": "too_many_requests"}}
    transport, calls = error_transport(400, body)
    sleeps = Sleeps()
    async with make_client(transport, sleeps, max_retries=3) as client:
        with pytest.raises(errors.RateLimitError) as info:
            await client.list_requests()
    assert len(calls) == 3 and "status=400" in str(info.value) and info.value.exit_code == 13
    # and through the fake, as a 400 that recovers:
    fake = FakeUpstage(rps_limit=1, rate_limit_status=400)
    async with make_client(fake.transport(), Sleeps()) as client:
        await client.list_requests()
        fake._window.clear()  # let the retry through without waiting a real second
        fake.fail_next(1, 400, body=body, endpoint="list")
        await client.list_requests()
    assert fake.list_calls == 3


async def test_network_errors_and_timeouts_are_retried(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    fake.fail_next(1, "reset", endpoint="sync")
    fake.fail_next(1, "refuse", endpoint="sync")
    fake.fail_next(1, "timeout", endpoint="sync")
    async with make_client(fake.transport(), max_retries=4) as client:
        result = await client.ocr_sync(fixtures_dir / "check_box.png", filename="check_box.png")
        assert "Pizza" in result["text"] and fake.sync_calls == 4
        fake.fail_next(4, "refuse")
        with pytest.raises(errors.NetworkError) as net:
            await client.list_requests()
        fake.fail_next(4, "timeout")
        with pytest.raises(errors.APITimeoutError) as slow:
            await client.list_requests()
    assert net.value.exit_code == 15 and "api.upstage.test" in str(net.value)
    assert slow.value.exit_code == 16
    assert KEY not in str(net.value) + str(slow.value)


async def test_submit_is_not_retried_after_an_ambiguous_failure(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    pdf = multi_pdf(fixtures_dir, 2)
    async with make_client(fake.transport()) as client:
        fake.fail_next(1, "reset", endpoint="submit")
        with pytest.raises(errors.NetworkError, match="list_requests"):
            await client.submit_async(pdf, filename="a.pdf")
        assert fake.submits == 1
        fake.fail_next(1, 503, endpoint="submit")
        fake.fail_next(1, "refuse", endpoint="submit")
        request_id = await client.submit_async(pdf, filename="a.pdf")
    assert fake.submits == 4 and fake.job_ids() == [request_id]


async def test_api_key_never_leaks(fixtures_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoing, _ = error_transport(401, {"error": {"message": f"bad key {KEY} / Bearer {KEY}"}})
    messages: list[str] = []
    async with make_client(echoing) as client:
        assert KEY not in repr(client)
        with pytest.raises(errors.AuthenticationError) as info:
            await client.ocr_sync(b"x", filename="x.png")
        messages.append(str(info.value))
        messages.append(repr(info.value))
        messages.append(str(info.value.to_dict()))

    def leaky(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"failed with headers {request.headers.get('authorization')}", request=request
        )

    async with make_client(httpx.MockTransport(leaky), max_retries=2) as client:
        with pytest.raises(errors.NetworkError) as net:
            await client.list_requests()
        messages.append(str(net.value))
    other_key = "sk-not-an-up-key-0123456789"  # a key of another shape, registered through Settings
    custom = UpstageClient(make_settings(api_key=other_key), transport=echoing, sleep=Sleeps())
    async with custom:
        with pytest.raises(errors.AuthenticationError) as info2:
            await custom.list_requests()
    messages.append(str(info2.value))
    joined = "\n".join(messages) + caplog.text
    assert KEY not in joined and other_key not in joined
    assert "***" in messages[0]


# --------------------------------------------------------------------------------------------------------
# Rate limiting


async def test_limiter_spaces_concurrent_callers_on_a_fake_clock() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await anyio.sleep(0)

    limiter = RateLimiter(3.0, clock=lambda: 100.0, sleep=sleep, headroom=1.0)
    async with anyio.create_task_group() as tg:
        for _ in range(9):
            tg.start_soon(limiter.acquire)
    assert len(waits) == 8  # the first caller goes at once
    assert sorted(waits) == pytest.approx([i / 3 for i in range(1, 9)])
    assert max(waits) >= 2.0


async def test_limiter_keeps_a_real_server_under_its_limit(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir, rps_limit=3)
    with fake.serve() as base_url:
        settings = make_settings(base_url=base_url, rate_limit=3.0, max_retries=2)
        async with UpstageClient(settings, backoff_base=0.01) as client:
            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                for _ in range(7):
                    tg.start_soon(client.list_requests)
            elapsed = time.monotonic() - started
    assert fake.list_calls == 7 and fake.rate_limited == 0
    assert 1.9 <= elapsed < 10


async def test_server_side_429_with_retry_after_over_real_http(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    fake.fail_next(1, 429, endpoint="sync", retry_after=0.05)
    fake.fail_next(1, "reset", endpoint="sync")
    with fake.serve() as base_url:
        async with UpstageClient(make_settings(base_url=base_url), backoff_base=0.01) as client:
            result = await client.ocr_sync(fixtures_dir / "reciepts.jpg", filename="reciepts.jpg")
    expected = json.loads((fixtures_dir / "reciepts.json").read_text())
    assert result == expected and fake.sync_calls == 3 and fake.rate_limited == 1


# --------------------------------------------------------------------------------------------------------
# Async: submit, poll, download


class Store:
    def __init__(self) -> None:
        self.pages: dict[int, list[models.Page]] = {}
        self.metas: list[dict[str, Any]] = []
        self.statuses: list[str] = []

    async def on_batch(self, meta: dict[str, Any], data: dict[str, Any]) -> None:
        self.metas.append(meta)
        self.pages[int(meta["id"])] = batch_pages(data, int(meta["start_page"]))

    async def on_status(self, status: dict[str, Any]) -> None:
        self.statuses.append(status["status"])

    def all_pages(self) -> list[models.Page]:
        return [p for bid in sorted(self.pages) for p in self.pages[bid]]


def clocked(fake_clock: FakeClock, transport: httpx.AsyncBaseTransport, **overrides: Any) -> UpstageClient:
    return UpstageClient(
        make_settings(**overrides),
        transport=transport,
        sleep=fake_clock.sleep,
        clock=fake_clock,
        backoff_base=0.01,
    )


async def test_async_flow_with_a_failed_batch(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, seconds_per_batch=4, failed_batches={1})
    pdf = multi_pdf(fixtures_dir, 25)
    store = Store()
    done: set[int] = set()
    async with clocked(clock, fake.transport()) as client:
        sync = await client.ocr_sync(pdf, filename="doc.pdf")
        request_id = await client.submit_async(pdf, filename="doc.pdf")
        status = await client.follow_async(
            request_id,
            done_batches=done,
            on_batch=store.on_batch,
            on_status=store.on_status,
            poll_interval=1.0,
        )
    assert fake.submits == 1 and fake.downloads == 2
    assert status["status"] == "completed" and done == {0, 2}
    assert [b["status"] for b in status["batches"]] == ["completed", "failed", "completed"]
    assert status["batches"][1]["failure_message"]
    assert "started" in store.statuses and store.statuses[-1] == "completed"
    ids = [p.id for p in store.all_pages()]
    assert ids == list(range(10)) + list(range(20, 25))
    assert all("authorization" not in c.headers for c in fake.calls_to("download"))
    # polling backed off between polls but never beyond the maximum
    assert clock.slept and max(clock.slept) <= 15.0
    sync_pages = models.OCRResult.model_validate(sync).pages
    assert [p.text for p in store.all_pages()] == [sync_pages[i].text for i in ids]


async def test_async_resume_skips_done_batches_and_builds_the_result(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock)
    pdf = multi_pdf(fixtures_dir, 21)
    async with clocked(clock, fake.transport()) as client:
        sync = await client.ocr_sync(pdf, filename="doc.pdf")
        request_id = await client.submit_async(pdf, filename="doc.pdf")
        first = Store()

        async def crash_on_second(meta: dict[str, Any], data: dict[str, Any]) -> None:
            if meta["id"] == 1:
                raise RuntimeError("disk full")
            await first.on_batch(meta, data)

        done: set[int] = set()
        with pytest.raises(RuntimeError):
            await client.follow_async(request_id, done_batches=done, on_batch=crash_on_second)
        assert done == {0}  # batch 1's callback failed: not marked done
        second = Store()
        await client.follow_async(request_id, done_batches=done, on_batch=second.on_batch)
    assert done == {0, 1, 2} and sorted(second.pages) == [1, 2]
    pages = first.all_pages() + second.all_pages()
    result = result_from_pages(pages, "ocr-260930", 21)
    assert result.text == sync["text"] and [p.id for p in result.pages] == list(range(21))
    assert result.confidence == sync["confidence"]
    assert [w.id for p in result.pages for w in p.words] == [
        w["id"] for p in sync["pages"] for w in p["words"]
    ]


async def test_expired_download_url_is_refreshed(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, url_ttl=5)
    store = Store()

    async def slow_status(status: dict[str, Any]) -> None:
        clock.advance(10)  # the URLs in this status expire before they are used

    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 12), filename="doc.pdf")
        await client.follow_async(
            request_id, done_batches=set(), on_batch=store.on_batch, on_status=slow_status
        )
    assert fake.expired_downloads == 2 and fake.downloads == 4
    assert fake.status_polls == 3  # one poll + one refresh per batch
    assert [p.id for p in store.all_pages()] == list(range(12))


async def test_download_gives_up_after_bounded_refreshes(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, url_ttl=0)
    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 2), filename="doc.pdf")
        status = await client.get_request(request_id)
        with pytest.raises(errors.ServerError, match="expired"):
            await client.download_batch(request_id, status["batches"][0])
    assert fake.downloads == client_mod.MAX_DOWNLOAD_REFRESHES + 1


async def test_empty_download_url_makes_it_poll_again(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, empty_url_polls=1)
    store = Store()
    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 3), filename="doc.pdf")
        status = await client.follow_async(request_id, done_batches=set(), on_batch=store.on_batch)
    assert status["status"] == "completed" and fake.status_polls == 2 and fake.downloads == 1
    assert [p.id for p in store.all_pages()] == [0, 1, 2]


async def test_batch_relative_ids_are_corrected(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, relative_batch_ids=True)
    store = Store()
    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 23), filename="doc.pdf")
        await client.follow_async(request_id, done_batches=set(), on_batch=store.on_batch)
    assert [p.id for p in store.pages[2]] == [20, 21, 22]
    assert [p.id for p in store.all_pages()] == list(range(23))


async def test_deadline_returns_the_unfinished_status(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, seconds_per_batch=100)
    store = Store()
    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 15), filename="doc.pdf")
        status = await client.follow_async(
            request_id, done_batches=set(), on_batch=store.on_batch, deadline=clock() + 30, poll_interval=2
        )
    assert status["status"] in ("submitted", "started") and store.pages == {}
    assert clock() <= 1000.0 + 30 + 1e-9


async def test_failed_request_is_returned_not_raised(fixtures_dir: Path) -> None:
    clock = FakeClock()
    fake = FakeUpstage(fixtures_dir=fixtures_dir, clock=clock, failed_batches={0}, seconds_per_batch=1)
    async with clocked(clock, fake.transport()) as client:
        request_id = await client.submit_async(multi_pdf(fixtures_dir, 5), filename="doc.pdf")
        status = await client.follow_async(request_id, done_batches=set(), on_batch=Store().on_batch)
        listed = await client.list_requests()
    assert status["status"] == "failed" and fake.downloads == 0
    assert listed["requests"][0]["id"] == request_id and listed["requests"][0]["status"] == "failed"


async def test_async_over_real_http(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir)
    store = Store()
    with fake.serve() as base_url:
        async with UpstageClient(make_settings(base_url=base_url), backoff_base=0.01) as client:
            request_id = await client.submit_async(fixtures_dir / "multi_page.pdf", filename="multi_page.pdf")
            await client.follow_async(
                request_id, done_batches=set(), on_batch=store.on_batch, poll_interval=0.01
            )
    golden = models.OCRResult.model_validate_json((fixtures_dir / "multi_page.json").read_text())
    result = result_from_pages(store.all_pages(), golden.modelVersion, 3)
    assert result.text == golden.text and result.confidence == golden.confidence


# --------------------------------------------------------------------------------------------------------
# Helpers: batch_pages, pdf_subset, fake limits


def test_batch_pages_reads_the_v2_shape() -> None:
    v2 = {
        "api": "2.0",
        "model": "ocr-250904",
        "pages": [
            {
                "id": 0, "width": 100, "height": 50, "text": "Hi",
                "words": [{"id": 0, "text": "Hi", "confidence": 0.9,
                           "bounding_box": {"vertices": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.1},
                                                         {"x": 0.2, "y": 0.2}, {"x": 0.1, "y": 0.2}]}}],
            }
        ],
        "usage": {"pages": 1},
    }  # fmt: skip
    pages = batch_pages(v2, start_page=11)
    assert [p.id for p in pages] == [10]
    assert pages[0].words[0].boundingBox.vertices[1].x == 20
    assert batch_pages({"apiVersion": "1.1", "confidence": 0, "modelVersion": "x", "numBilledPages": 0,
                        "text": "", "pages": []}, 1) == []  # fmt: skip


def test_pdf_subset(fixtures_dir: Path, tmp_path: Path) -> None:
    data = pdf_subset(fixtures_dir / "multi_page.pdf", [3, 1])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 2
    with pytest.raises(errors.PageRangeError, match="outside"):
        pdf_subset(fixtures_dir / "multi_page.pdf", [4])
    with pytest.raises(errors.PageRangeError):
        pdf_subset(fixtures_dir / "multi_page.pdf", [])
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7 nothing else")
    with pytest.raises(errors.CorruptDocumentError):
        pdf_subset(bad, [1])


async def test_fake_enforces_its_limits(fixtures_dir: Path) -> None:
    fake = FakeUpstage(fixtures_dir=fixtures_dir, sync_page_limit=5)
    async with make_client(fake.transport()) as client:
        with pytest.raises(errors.FileTooLargeError, match="status=413"):
            await client.ocr_sync(multi_pdf(fixtures_dir, 6), filename="six.pdf")
        with pytest.raises(errors.UnsupportedFormatError, match="status=415"):
            await client.ocr_sync(b"just text", filename="notes.txt")
        with pytest.raises(errors.BadRequestError, match="invalid model name"):
            await client.ocr_sync(multi_pdf(fixtures_dir, 1), filename="a.pdf", model="document-parse-latest")
        with pytest.raises(errors.CorruptDocumentError, match="status=422"):
            await client.ocr_sync(b"%PDF-1.7 truncated", filename="a.pdf")
        fake.sync_over_limit = "truncate"
        data = await client.ocr_sync(multi_pdf(fixtures_dir, 6), filename="six.pdf")
    assert data["numBilledPages"] == 5
    assert fake.calls_to("sync")[1].files["document"].content_type == "text/plain"


def test_parse_error_body_variants() -> None:
    def resp(status: int, **kw: Any) -> httpx.Response:
        return httpx.Response(status, **kw)

    assert parse_error_body(resp(429, json={"error": {"code": "x", "type": "too_many_requests"}}))[1] == (
        "too_many_requests"
    )
    assert parse_error_body(resp(400, json={"error": {"message": "m", "code": "c", "type": "t"}})) == (
        "m",
        "c",
    )
    assert parse_error_body(resp(400, json=[1, 2]))[0] == "[1,2]"
    assert parse_error_body(resp(502, text="<html><body><h1>Bad <b>Gateway</b></h1></body></html>"))[0] == (
        "Bad Gateway"
    )
