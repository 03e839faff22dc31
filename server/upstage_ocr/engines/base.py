"""The engine contract every local engine implements, and the registry that loads each one once per process.

`override_engines` is the public seam for tests and benchmarks: inside it, `get_engine` makes the named
engines with the given factories (a fake that reads test documents instantly, say), and the registered
engines come back when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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

    def model_version_for(self, lang: str | None) -> str:
        """`modelVersion` of results read with this language hint (an engine may add a helper per language)."""
        ...

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[RawWord]: ...


_factories: dict[str, Callable[[], Engine]] = {}
_instances: dict[str, Engine] = {}
_overrides: dict[str, Callable[[], Engine]] = {}
_override_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    _factories[name] = factory


def engine_names() -> list[str]:
    _ensure_builtin()
    return sorted(_factories)


def get_engine(name: str) -> Engine:
    """The engine called `name`, created on first use and reused afterwards (thread-safe)."""
    _ensure_builtin()
    with _lock:
        factories, instances = (
            (_overrides, _override_instances) if name in _overrides else (_factories, _instances)
        )
        if name not in factories:
            raise ConfigError(
                f"unknown engine {name!r}", hint=f"Choose one of: upstage, {', '.join(sorted(_factories))}"
            )
        if name not in instances:
            instances[name] = factories[name]()
        return instances[name]


@contextmanager
def override_engines(factories: Mapping[str, Callable[[], Engine]]) -> Iterator[None]:
    """Inside the block, `get_engine(name)` makes the engines named in `factories` with those factories (once
    each) and every other engine as registered. The overrides replace any an outer block set: an empty
    mapping means the registered engines throughout. Not for concurrent use from several threads' blocks."""
    with _lock:
        saved = dict(_overrides), dict(_override_instances)
        _overrides.clear()
        _overrides.update(factories)
        _override_instances.clear()
    try:
        yield
    finally:
        with _lock:
            _overrides.clear()
            _overrides.update(saved[0])
            _override_instances.clear()
            _override_instances.update(saved[1])


def _ensure_builtin() -> None:
    if _factories:
        return
    from . import builtin  # registers the shipped engines lazily (no model is loaded here)

    builtin.register_all()
