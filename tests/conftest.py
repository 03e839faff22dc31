from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(
    os.environ.get("UPSTAGE_OCR_FIXTURES", ROOT.parent / "shared" / "fixtures" / "upstage-cookbook")
)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"golden fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test sees the developer's key or store: each gets its own UPSTAGE_OCR_HOME."""
    for var in ("UPSTAGE_API_KEY", "UPSTAGE_BASE_URL", "UPSTAGE_OCR_ENGINE", "UPSTAGE_OCR_HTTP_TOKEN"):
        if var == "UPSTAGE_API_KEY" and os.environ.get("UPSTAGE_OCR_LIVE") == "1":
            continue
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("UPSTAGE_OCR_HOME", str(tmp_path / "home"))
    yield


@pytest.fixture
def calls(tmp_path, monkeypatch) -> Path:
    """A file the fake engine (tests/helpers.py) appends every page number it is asked to recognise to."""
    path = tmp_path / "calls.txt"
    path.touch()
    monkeypatch.setenv("UPSTAGE_OCR_FAKE_CALLS", str(path))
    return path
