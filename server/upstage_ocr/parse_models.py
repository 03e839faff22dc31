"""The Document Parse result shape (Upstage `model=document-parse`, `api: "2.0"`), shared by every parse backend.

Elements carry a 1-based `page`, relative coordinates (0..1, 4 decimals, clockwise from top-left) and their
content in the requested formats (formats not requested are ""). Unknown fields the API adds are kept.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

PARSE_API_VERSION = "2.0"

Category = Literal[
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
]
CATEGORIES: tuple[str, ...] = get_args(Category)

OutputFormat = Literal["html", "markdown", "text"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)
DEFAULT_OUTPUT_FORMATS: tuple[str, ...] = ("html",)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RelVertex(_Model):
    x: float
    y: float


class Content(_Model):
    html: str = ""
    markdown: str = ""
    text: str = ""


class Element(_Model):
    # `category` is a plain str, not the Literal: the API may add categories and a result must still load.
    category: str
    content: Content = Field(default_factory=Content)
    coordinates: list[RelVertex] = Field(default_factory=list)
    id: int
    page: int


class Usage(_Model):
    pages: int = 0


class ParseResult(_Model):
    api: str = PARSE_API_VERSION
    content: Content = Field(default_factory=Content)
    elements: list[Element] = Field(default_factory=list)
    model: str = ""
    usage: Usage = Field(default_factory=Usage)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def rel_box(
    left: float, top: float, right: float, bottom: float, width: float, height: float
) -> list[RelVertex]:
    """Four clockwise vertices of a pixel box, relative to the page size, clamped to 0..1, 4 decimals."""

    def clamp(v: float) -> float:
        return round(min(1.0, max(0.0, v)), 4)

    w = width or 1.0
    h = height or 1.0
    x0, y0, x1, y1 = clamp(left / w), clamp(top / h), clamp(right / w), clamp(bottom / h)
    return [RelVertex(x=x0, y=y0), RelVertex(x=x1, y=y0), RelVertex(x=x1, y=y1), RelVertex(x=x0, y=y1)]
