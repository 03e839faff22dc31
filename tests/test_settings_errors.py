from __future__ import annotations

from pathlib import Path

import pytest

from upstage_ocr import errors
from upstage_ocr.settings import ENV_VARS, Settings

KEY = "up_TESTKEY1234567890abcdef"


def test_defaults_and_sources():
    s = Settings.load(env={})
    assert s.base_url == "https://api.upstage.ai/v1"
    assert s.engine == "auto" and s.resolved_engine == "local"
    assert s.rate_limit == 3.0
    assert s.source_of("base_url") == "default"
    assert isinstance(s.home, Path)


def test_env_then_flags_override():
    env = {
        "UPSTAGE_API_KEY": KEY,
        "UPSTAGE_OCR_ENGINE": "local",
        "UPSTAGE_OCR_RATE_LIMIT": "1.5",
        "UPSTAGE_OCR_HOME": "/x",
    }
    s = Settings.load(env=env)
    assert s.resolved_engine == "local" and s.rate_limit == 1.5 and s.home == Path("/x")
    assert s.source_of("engine") == "env UPSTAGE_OCR_ENGINE"
    s2 = Settings.load(env=env, engine="upstage", home="/y")
    assert s2.engine == "upstage" and s2.source_of("engine") == "flag" and s2.home == Path("/y")
    assert Settings.load(env={"UPSTAGE_API_KEY": KEY}).resolved_engine == "upstage"


def test_bad_values_are_config_errors():
    with pytest.raises(errors.ConfigError, match="unknown engine 'paddle'"):
        Settings.load(env={"UPSTAGE_OCR_ENGINE": "paddle"})
    with pytest.raises(errors.ConfigError, match="not a valid number"):
        Settings.load(env={"UPSTAGE_OCR_RATE_LIMIT": "fast"})


def test_describe_masks_secrets():
    s = Settings.load(env={"UPSTAGE_API_KEY": KEY, "UPSTAGE_OCR_HTTP_TOKEN": "tok-secret-123456"})
    text = repr(s) + str(s.describe())
    assert KEY not in text and "tok-secret-123456" not in text
    names = {row[0] for row in s.describe()}
    assert names == {v[0] for v in ENV_VARS.values()}


def test_errors_have_distinct_exit_codes_and_never_show_the_key():
    Settings.load(env={"UPSTAGE_API_KEY": KEY})  # registers the key as a secret
    err = errors.AuthenticationError(f"rejected key {KEY} (Bearer {KEY})", hint=errors.NO_KEY_HINT)
    assert KEY not in str(err) and "UPSTAGE_API_KEY" in str(err)
    assert "\n" not in str(err)
    classes = [
        errors.AuthenticationError,
        errors.CreditError,
        errors.BadRequestError,
        errors.FileTooLargeError,
        errors.UnsupportedFormatError,
        errors.RateLimitError,
        errors.ServerError,
        errors.NetworkError,
        errors.APITimeoutError,
        errors.JobError,
        errors.ConfigError,
        errors.CorruptDocumentError,
    ]
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes) and 0 not in codes


def test_an_unregistered_upstage_shaped_key_is_masked_too():
    assert "up_" + "abcdefgh12345" not in errors.redact("key up_abcdefgh12345 leaked")
