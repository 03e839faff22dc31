"""One real call to the Upstage API. Runs only with UPSTAGE_OCR_LIVE=1 and UPSTAGE_API_KEY set (costs 1 page)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upstage_ocr import models
from upstage_ocr.settings import Settings
from upstage_ocr.upstage import UpstageClient

LIVE = os.environ.get("UPSTAGE_OCR_LIVE") == "1" and bool(os.environ.get("UPSTAGE_API_KEY"))

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(not LIVE, reason="set UPSTAGE_OCR_LIVE=1 and UPSTAGE_API_KEY to call the real API"),
]


async def test_live_sync_ocr_of_check_box(fixtures_dir: Path) -> None:
    settings = Settings.load()
    async with UpstageClient(settings) as client:
        data = await client.ocr_sync(fixtures_dir / "check_box.png", filename="check_box.png")
    result = models.parse_result(data)
    assert "Pizza" in result.text
    assert result.numBilledPages == 1 and result.pages and result.pages[0].words
