"""The only place that reads the environment: every setting with its default and where its value came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError, mask, register_secret
from .vocab import ENGINES

DEFAULT_BASE_URL = "https://api.upstage.ai/v1"

# name -> (env var, default, description, secret)
ENV_VARS: dict[str, tuple[str, Any, str, bool]] = {
    "api_key": (
        "UPSTAGE_API_KEY",
        None,
        "Upstage API key (console.upstage.ai). Unset: the offline engine is used.",
        True,
    ),
    "base_url": ("UPSTAGE_BASE_URL", DEFAULT_BASE_URL, "Base URL of the Upstage API.", False),
    "engine": (
        "UPSTAGE_OCR_ENGINE",
        "auto",
        "auto | upstage | local | tesseract. auto = upstage when a key is set, else local.",
        False,
    ),
    "home": (
        "UPSTAGE_OCR_HOME",
        None,
        "Where the job store and cached results live (default: the user data dir).",
        False,
    ),
    "model": (
        "UPSTAGE_OCR_MODEL",
        "ocr",
        "Upstage model: ocr or a pinned version such as ocr-250904.",
        False,
    ),
    "parse_model": (
        "UPSTAGE_PARSE_MODEL",
        "document-parse",
        "Upstage Document Parse model: document-parse or a pinned version such as document-parse-260128.",
        False,
    ),
    "parse_sync_max_pages": (
        "UPSTAGE_PARSE_SYNC_PAGES",
        100,
        "Document Parse on the Upstage API: the most pages one sync call takes (larger documents go async).",
        False,
    ),
    "parse_async_max_pages": (
        "UPSTAGE_PARSE_ASYNC_PAGES",
        1000,
        "Document Parse on the Upstage API: the most pages one async request takes (newer docs: 2000).",
        False,
    ),
    "parse_max_mb": (
        "UPSTAGE_PARSE_MAX_MB",
        50,
        "Document Parse on the Upstage API: the largest file in MB (newer docs: 500 for async).",
        False,
    ),
    "rate_limit": (
        "UPSTAGE_OCR_RATE_LIMIT",
        3.0,
        "Client-side request rate limit towards the Upstage API (requests/second).",
        False,
    ),
    "max_retries": (
        "UPSTAGE_OCR_MAX_RETRIES",
        5,
        "Attempts per Upstage request on 429/5xx/network errors.",
        False,
    ),
    "timeout": ("UPSTAGE_OCR_TIMEOUT", 300.0, "Seconds to wait for one Upstage request.", False),
    "sync_page_limit": (
        "UPSTAGE_OCR_SYNC_PAGES",
        5,
        "MCP: documents with at most this many pages finish inside the ocr_document call.",
        False,
    ),
    "http_token": (
        "UPSTAGE_OCR_HTTP_TOKEN",
        None,
        "Bearer token required by the streamable HTTP transport when set.",
        True,
    ),
    "allow_private_urls": (
        "UPSTAGE_OCR_ALLOW_PRIVATE_URLS",
        False,
        "Allow fetching URLs on loopback/private/link-local addresses.",
        False,
    ),
    "lang": (
        "UPSTAGE_OCR_LANG",
        None,
        "Default language hint for local engines (e.g. en, ko, kor+eng).",
        False,
    ),
    "workers": (
        "UPSTAGE_OCR_WORKERS",
        None,
        "Pages in flight on the local engine (default: min(2, CPU cores)).",
        False,
    ),
}


def _default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("upstage-ocr", appauthor=False))


def _coerce(name: str, raw: str) -> Any:
    default = ENV_VARS[name][1]
    try:
        if isinstance(default, bool) or name == "allow_private_urls":
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int) and not isinstance(default, bool):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if name == "workers":
            return int(raw) if raw.strip() else None
    except ValueError as exc:
        raise ConfigError(f"{ENV_VARS[name][0]}={raw!r} is not a valid number") from exc
    return raw


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    engine: str = "auto"
    home: Path = field(default_factory=_default_home)
    model: str = "ocr"
    parse_model: str = "document-parse"
    parse_sync_max_pages: int = 100
    parse_async_max_pages: int = 1000
    parse_max_mb: int = 50
    rate_limit: float = 3.0
    max_retries: int = 5
    timeout: float = 300.0
    sync_page_limit: int = 5
    http_token: str | None = field(default=None, repr=False)
    allow_private_urls: bool = False
    lang: str | None = None
    workers: int | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from defaults < environment < explicit overrides (CLI flags). None overrides are ignored."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name, (var, _default, _desc, _secret) in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[name] = _coerce(name, raw.strip())
                sources[name] = f"env {var}"
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
                sources[name] = "flag"
        if "home" in values:
            values["home"] = Path(values["home"]).expanduser()
        settings = cls(**values, sources=sources)
        settings.validate()
        register_secret(settings.api_key)
        register_secret(settings.http_token)
        return settings

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}", hint=f"Choose one of: {', '.join(ENGINES)}")
        if self.rate_limit <= 0:
            raise ConfigError("UPSTAGE_OCR_RATE_LIMIT must be greater than 0")
        if self.max_retries < 1:
            raise ConfigError("UPSTAGE_OCR_MAX_RETRIES must be at least 1")
        for name in ("parse_sync_max_pages", "parse_async_max_pages", "parse_max_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{ENV_VARS[name][0]} must be at least 1")

    @property
    def resolved_engine(self) -> str:
        """The engine `auto` stands for: `upstage` with a key, else the embedded `local` engine."""
        if self.engine == "auto":
            return "upstage" if self.api_key else "local"
        return self.engine

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(env var, shown value, source, description) for every setting, secrets masked."""
        rows = []
        for f in fields(self):
            if f.name not in ENV_VARS:
                continue
            var, _default, desc, secret = ENV_VARS[f.name]
            value = getattr(self, f.name)
            shown = mask(value) if secret else ("(not set)" if value is None else str(value))
            if f.name == "engine":
                shown = f"{value} (-> {self.resolved_engine})"
            rows.append((var, shown, self.source_of(f.name), desc))
        return rows
