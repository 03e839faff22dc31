"""What the upstage engine writes: the API's own response for a whole-document call, byte for byte in meaning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_upstage import FakeUpstage
from helpers import make_pdf, private_tempdir
from upstage_ocr.jobs.service import OCRService
from upstage_ocr.settings import Settings

KEY = "up_results_test_key_0123456789"


@pytest.fixture(autouse=True)
def _tmp(monkeypatch, tmp_path):
    private_tempdir(monkeypatch, tmp_path)


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["check_box.png", "reciepts.jpg", "multi_page.pdf", "dpi_150.jpg"])
async def test_sync_result_file_is_the_api_response(fixtures_dir, tmp_path, name):
    fake = FakeUpstage(api_key=KEY)
    settings = Settings.load(api_key=KEY, home=tmp_path / "home")
    async with OCRService(settings, transport=fake.transport()) as service:
        sub = await service.submit(str(fixtures_dir / name))
        job = await service.run(sub.job.id)
    assert job.status == "completed", job.error
    written = json.loads(Path(job.result_path).read_text(encoding="utf-8"))
    captured = json.loads(
        (fixtures_dir / name.rsplit(".", 1)[0]).with_suffix(".json").read_text(encoding="utf-8")
    )
    assert written == captured
    assert fake.sync_calls == 1


@pytest.mark.anyio
async def test_a_response_with_unexpected_envelope_values_is_kept_as_sent(tmp_path):
    """A stand-in (or a future API) may report stored=true or a mean document confidence: keep its values."""
    fake = FakeUpstage(api_key=KEY)
    pdf = make_pdf(tmp_path / "three.pdf", 3)
    settings = Settings.load(api_key=KEY, home=tmp_path / "home")
    original = fake._sync

    def patched(call):
        reply = original(call)
        body = json.loads(reply.body)
        body["stored"] = True
        body["confidence"] = 0.5
        reply.body = json.dumps(body).encode()
        return reply

    fake._sync = patched  # type: ignore[method-assign]
    async with OCRService(settings, transport=fake.transport()) as service:
        job = await service.run((await service.submit(str(pdf))).job.id)
    written = json.loads(Path(job.result_path).read_text(encoding="utf-8"))
    assert written["stored"] is True and written["confidence"] == 0.5
    assert [p["id"] for p in written["pages"]] == [0, 1, 2]


@pytest.mark.anyio
async def test_the_other_documented_shape_is_written_in_the_one_model_with_pixel_boxes(tmp_path):
    """`api: "2.0"`, snake_case `bounding_box`, 0..1 coordinates: converted with the page sizes we know."""
    import httpx
    from PIL import Image

    png = tmp_path / "wide.png"
    Image.new("RGB", (800, 400), "white").save(png)

    def handler(request: httpx.Request) -> httpx.Response:
        box = {
            "vertices": [
                {"x": 0.1, "y": 0.25},
                {"x": 0.5, "y": 0.25},
                {"x": 0.5, "y": 0.5},
                {"x": 0.1, "y": 0.5},
            ]
        }
        return httpx.Response(
            200,
            json={
                "api": "2.0",
                "model": "ocr-250904",
                "usage": {"pages": 1},
                "pages": [
                    {
                        "id": 0,
                        "text": "Hello",
                        "words": [{"id": 0, "text": "Hello", "confidence": 0.97, "bounding_box": box}],
                    }
                ],
            },
        )

    settings = Settings.load(api_key=KEY, home=tmp_path / "home")
    async with OCRService(settings, transport=httpx.MockTransport(handler)) as service:
        job = await service.run((await service.submit(str(png))).job.id)
    assert job.status == "completed", job.error
    written = json.loads(Path(job.result_path).read_text(encoding="utf-8"))
    assert written["apiVersion"] == "1.1" and written["modelVersion"] == "ocr-250904"
    page = written["pages"][0]
    assert (page["width"], page["height"]) == (800, 400)
    assert page["words"][0]["boundingBox"]["vertices"] == [
        {"x": 80, "y": 100},
        {"x": 400, "y": 100},
        {"x": 400, "y": 200},
        {"x": 80, "y": 200},
    ]
    assert written["numBilledPages"] == 1 and written["text"] == "Hello"
