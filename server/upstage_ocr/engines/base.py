"""The engine contract every local engine implements, and the registry that loads each one once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PIL import Image

from ..errors import ConfigError
from ..models import RawWord


@runtime_checkable
class Engine(Protocol):
    """Recognise one page image; return its words in reading order, each tagged with its line number."""

    name: str

    @property
    def model_version(self) -> str:
        """What goes into `modelVersion` of results, e.g. `local-rapidocr-3.10.0-PP-OCRv6`."""
        ...

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]: ...


_factories: dict[str, Callable[[], Engine]] = {}
_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    _factories[name] = factory


def engine_names() -> list[str]:
    _ensure_builtin()
    return sorted(_factories)


def get_engine(name: str) -> Engine:
    """The engine called `name`, created on first use and reused afterwards (thread-safe)."""
    _ensure_builtin()
    if name not in _factories:
        raise ConfigError(
            f"unknown engine {name!r}", hint=f"Choose one of: upstage, {', '.join(sorted(_factories))}"
        )
    with _lock:
        if name not in _instances:
            _instances[name] = _factories[name]()
        return _instances[name]


def _ensure_builtin() -> None:
    if _factories:
        return
    from . import builtin  # registers the shipped engines lazily (no model is loaded here)

    builtin.register_all()
