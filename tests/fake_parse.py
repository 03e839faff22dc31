"""Document Parse (`model=document-parse`) for the fake Upstage API in fake_upstage.py.

Built from docs/upstage-api.md §1.3, §2.3, §2.4 and §3: the request fields (`ocr`, `output_formats`,
`coordinates`, `chart_recognition`, `base64_encoding`, `mode`, `merge_multipage_tables`; lists as JSON or as
Python-repr strings, booleans as true/True/false/False) and the `api: "2.0"` response: `content` in the
requested formats (the others ""), `elements` with ids from 0, a 1-based `page`, relative coordinates (4
decimals, clockwise from top-left, left out when `coordinates=false`), `base64_encoding` on the categories
asked for, and `usage.pages`.

Every page gets deterministic elements from the document's sha256 and its page number: a heading1, a
paragraph, a 3x3 table, on every third page a chart (a table when `chart_recognition`, else an image), and a
footer. An async batch download is the same shape for its pages, element ids again from 0, pages absolute
(or batch-relative when the fake is told so).
"""

from __future__ import annotations

import ast
import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODEL_RE = re.compile(r"^document-parse(-\d{6}|-nightly)?$")
DEFAULT_VERSION = "document-parse-260128"
FORMATS = ("html", "markdown", "text")
CATEGORIES = (
    "paragraph",
    "table",
    "figure",
    "chart",
    "heading1",
    "header",
    "footer",
    "caption",
    "equation",
    "list",
    "index",
    "footnote",
    "code",
)
# A 1x1 PNG: what a base64-encoded crop decodes to.
CROP_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)


class BadField(ValueError):
    """A request field the API would reject with 400."""

    def __init__(self, message: str, code: str = "invalid_parameter"):
        super().__init__(message)
        self.message, self.code = message, code


def is_parse_model(model: str) -> bool:
    return bool(MODEL_RE.match(model or ""))


def read_list(name: str, raw: str | None, default: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """A list field sent as '["html","text"]' (JSON) or "['html']" (Python repr)."""
    if raw is None or raw.strip() == "":
        return tuple(default)
    try:
        value = json.loads(raw)
    except ValueError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise BadField(f"{name} must be a list such as ['html'], got {raw!r}") from exc
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise BadField(f"{name} must be a list of strings, got {raw!r}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise BadField(f"invalid value in {name}: {bad[0]!r}")
    return tuple(dict.fromkeys(value))


def read_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    low = raw.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise BadField(f"{name} must be true or false, got {raw!r}")


def read_choice(name: str, raw: str | None, default: str, allowed: Sequence[str]) -> str:
    if raw is None or raw.strip() == "":
        return default
    if raw not in allowed:
        raise BadField(f"invalid {name}: {raw!r} (choose {' | '.join(allowed)})")
    return raw


@dataclass(frozen=True)
class ParseRequest:
    """The parse options of one request (what the fake needs to answer it again for an async batch)."""

    digest: str
    formats: tuple[str, ...] = ("html",)
    coordinates: bool = True
    chart_recognition: bool = True
    base64_encoding: tuple[str, ...] = ()
    mode: str = "standard"
    ocr: str = "auto"
    merge_multipage_tables: bool = False

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], digest: str) -> ParseRequest:
        """The options from the multipart fields, with the API's defaults; raises BadField."""
        return cls(
            digest=digest,
            formats=read_list("output_formats", fields.get("output_formats"), ("html",), FORMATS),
            coordinates=read_bool("coordinates", fields.get("coordinates"), True),
            chart_recognition=read_bool("chart_recognition", fields.get("chart_recognition"), True),
            base64_encoding=read_list("base64_encoding", fields.get("base64_encoding"), (), CATEGORIES),
            mode=read_choice("mode", fields.get("mode"), "standard", ("standard", "enhanced", "auto")),
            ocr=read_choice("ocr", fields.get("ocr"), "auto", ("auto", "force")),
            merge_multipage_tables=read_bool(
                "merge_multipage_tables", fields.get("merge_multipage_tables"), False
            ),
        )


# --------------------------------------------------------------------------------------------------------
# Synthetic pages


def table_rows(digest: str, number: int) -> list[list[str]]:
    """The 3x3 table on page `number` (1-based) of the document with sha256 `digest`."""
    price = (int(digest[8:12], 16) % 1000) / 10
    return [
        ["Item", "Qty", "Price"],
        [f"Widget {number}", str(number % 7 + 1), f"{price:.2f}"],
        [f"Gadget {digest[:4]}", str(number % 5 + 2), f"{price + number:.2f}"],
    ]


def page_specs(req: ParseRequest, number: int) -> list[tuple[str, Any, tuple[float, float, float, float]]]:
    """(category, payload, (left, top, right, bottom) relative) of page `number`'s elements, in reading order."""
    specs: list[tuple[str, Any, tuple[float, float, float, float]]] = [
        ("heading1", f"Fake parse page {number}", (0.08, 0.05, 0.6, 0.09)),
        ("paragraph", f"Document {req.digest[:8]} page {number} says hello.", (0.08, 0.12, 0.92, 0.2)),
        ("table", table_rows(req.digest, number), (0.08, 0.25, 0.92, 0.45)),
    ]
    if number % 3 == 0:
        specs.append(("chart", [["Year", "Sales"], ["2025", str(number * 10)]], (0.2, 0.5, 0.8, 0.75)))
    specs.append(("footer", f"- {number} -", (0.45, 0.95, 0.55, 0.97)))
    return specs


def _table(eid: int, rows: list[list[str]]) -> tuple[str, str, str]:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    html = f"<table id='{eid}' style='font-size:14px'>{body}</table>"
    md_rows = ["| " + " | ".join(r) + " |" for r in rows]
    md_rows.insert(1, "| " + " | ".join("---" for _ in rows[0]) + " |")
    return html, "\n".join(md_rows), "\n".join(" ".join(r) for r in rows)


def render(req: ParseRequest, eid: int, category: str, payload: Any) -> dict[str, str]:
    """The element's html, markdown and text (formats not requested are "")."""
    if category == "heading1":
        html, md, text = f"<h1 id='{eid}' style='font-size:20px'>{payload}</h1>", f"# {payload}", payload
    elif category == "table":
        html, md, text = _table(eid, payload)
    elif category == "chart" and req.chart_recognition:
        inner, md, text = _table(eid, payload)
        inner = inner.replace(f" id='{eid}'", "", 1)  # only the element's own (outer) tag carries its id
        html = f"<figure id='{eid}' data-category='chart'>{inner}</figure>"
    elif category == "chart":
        html, md, text = (
            f"<figure id='{eid}'><img alt='chart' /></figure>",
            "![chart](/image/placeholder)",
            "",
        )
    elif category == "footer":
        html, md, text = f"<footer id='{eid}' style='font-size:12px'>{payload}</footer>", payload, payload
    else:
        html = f"<p id='{eid}' data-category='{category}' style='font-size:14px'>{payload}</p>"
        md = text = payload
    got = {"html": html, "markdown": md, "text": text}
    return {f: got[f] if f in req.formats else "" for f in FORMATS}


def _coords(box: tuple[float, float, float, float]) -> list[dict[str, float]]:
    left, top, right, bottom = (round(v, 4) for v in box)
    return [
        {"x": left, "y": top},
        {"x": right, "y": top},
        {"x": right, "y": bottom},
        {"x": left, "y": bottom},
    ]


def envelope(
    req: ParseRequest, numbers: Sequence[int], version: str, *, page_offset: int = 0
) -> dict[str, Any]:
    """The sync-shaped response for document pages `numbers` (1-based); `page` = number - page_offset."""
    elements: list[dict[str, Any]] = []
    for number in numbers:
        for category, payload, box in page_specs(req, number):
            eid = len(elements)
            element: dict[str, Any] = {
                "category": category,
                "content": render(req, eid, category, payload),
                "id": eid,
                "page": number - page_offset,
            }
            if req.coordinates:
                element["coordinates"] = _coords(box)
            if category in req.base64_encoding:
                element["base64_encoding"] = base64.b64encode(CROP_PNG).decode()
            elements.append(element)
    joins = {"html": "\n", "markdown": "\n\n", "text": "\n"}
    content = {
        f: joins[f].join(e["content"][f] for e in elements if e["content"][f]) if f in req.formats else ""
        for f in FORMATS
    }
    return {
        "api": "2.0",
        "content": content,
        "elements": elements,
        "model": version,
        "usage": {"pages": len(numbers)},
    }
