"""Every closed vocabulary of the project, defined once: engines, result schemas, export formats, job states,
input file kinds. The CLI's choices, the MCP tools' Literal types and the settings' checks derive from these.
"""

from __future__ import annotations

from typing import Literal, get_args

EngineName = Literal["auto", "upstage", "local", "tesseract"]
"""Engines a user can ask for: `auto` is `upstage` with an API key, else `local` (offline)."""
ENGINES: tuple[EngineName, ...] = get_args(EngineName)

SchemaName = Literal["clova", "google"]
"""Other OCR result shapes a result can be written in (besides Upstage's own)."""
SCHEMAS: tuple[SchemaName, ...] = get_args(SchemaName)

OcrMode = Literal["auto", "force"]
"""Local engines on PDFs: `auto` reads a page whose text layer can be trusted from it, `force` OCRs every page."""
OCR_MODES: tuple[OcrMode, ...] = get_args(OcrMode)

ExportFormat = Literal["txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay"]
"""What a finished job can be exported as."""
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

ParseExportFormat = Literal["md", "html", "csv", "json"]
"""What a finished parse job can be exported as (csv: one file per table)."""
PARSE_EXPORT_FORMATS: tuple[ParseExportFormat, ...] = get_args(ParseExportFormat)
AnyExportFormat = Literal["txt", "md", "json", "csv", "docx", "hocr", "pdf", "overlay", "html"]
"""Every export format of either kind of job (what export_ocr takes)."""
ALL_EXPORT_FORMATS: tuple[AnyExportFormat, ...] = get_args(AnyExportFormat)

JobStatus = Literal["queued", "running", "completed", "failed"]
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
UNFINISHED_STATUSES: tuple[JobStatus, ...] = ("queued", "running")
FINISHED_STATUSES: tuple[JobStatus, ...] = ("completed", "failed")

FileKind = Literal["image", "tiff", "pdf", "office"]
"""What an input file is, by its content: decides how its pages are read."""
FILE_KINDS: tuple[FileKind, ...] = get_args(FileKind)
