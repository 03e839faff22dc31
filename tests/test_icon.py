"""The plugin icon: what Claude Code's plugin directory accepts (a square PNG of 512-2048 px under 2 MB at
.claude-plugin/icon.png), drawn by manifests/make_icon.py, with its manifests/ copy byte-identical."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from PIL import Image, ImageChops, ImageStat

ROOT = Path(__file__).resolve().parents[1]
ICON = ROOT / ".claude-plugin" / "icon.png"
COPY = ROOT / "manifests" / "claude-plugin" / "icon.png"


def make_icon() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icon", ROOT / "manifests" / "make_icon.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_icon_is_a_square_png_the_plugin_directory_accepts():
    assert ICON.stat().st_size < 2 * 1024 * 1024
    with Image.open(ICON) as image:
        assert image.format == "PNG"
        assert image.width == image.height
        assert 512 <= image.width <= 2048
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 1000, "an icon, not a flat fill"


def test_icon_is_where_claude_code_looks_and_its_copy_is_identical():
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    # Without an `icon` field the validator looks at .claude-plugin/icon.png; a field must name that file.
    assert plugin.get("icon", "./.claude-plugin/icon.png").removeprefix("./") == ".claude-plugin/icon.png"
    assert ICON.read_bytes() == COPY.read_bytes(), "run: python manifests/make_icon.py"


def test_icon_is_what_the_script_draws(tmp_path):
    module = make_icon()
    out = tmp_path / "icon.png"
    assert module.main([str(out)]) == 0
    with Image.open(out) as drawn, Image.open(ICON) as committed:
        assert drawn.size == committed.size
        diff = ImageChops.difference(drawn.convert("RGB"), committed.convert("RGB"))
    # Pillow versions may round an edge pixel differently; a changed drawing moves far more than this.
    assert max(ImageStat.Stat(diff).mean) < 0.5, "the icon is stale: run python manifests/make_icon.py"


def test_the_script_really_draws_the_parts_it_describes():
    module = make_icon()
    image = module.draw_icon(512).convert("RGB")
    pixels = [colour for _, colour in image.getcolors(maxcolors=1 << 20) or []]

    def near(colour: tuple[int, int, int]) -> bool:
        return any(sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < 24 for p in pixels)

    for name in ("PAGE", "INK", "UNREAD", "BOX", "BEAM"):
        assert near(getattr(module, name)), f"no {name} pixels in the icon"
    corner, centre = image.getpixel((2, 2)), image.getpixel((256, 256))
    assert sum(corner) < 300 < sum(centre), "a light page on a dark background"
