"""A job: what was asked (input, content hash, options), where it stands, and its pages' numbering."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ..vocab import FINISHED_STATUSES, JobStatus


def job_key(sha256: str, options: dict[str, Any]) -> str:
    """The identity of a job: the content hash plus every option that changes the result."""
    blob = json.dumps({"sha256": sha256, **options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Job:
    id: str
    job_key: str
    input_name: str
    input_path: str
    source: str
    sha256: str
    size: int
    options: dict[str, Any]
    engine: str
    status: JobStatus
    pages_total: int | None
    pages_done: int
    page_numbers: list[int] | None
    request_id: str | None
    model_version: str | None
    billed_pages: int
    error: str | None
    error_code: str | None
    result_path: str | None
    created_at: float
    updated_at: float
    finished_at: float | None
    lease_owner: str | None = None
    lease_until: float | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def page_number(self, index: int) -> int:
        """The 1-based document page at `index` (0-based position in the job's result)."""
        numbers = self.page_numbers
        return numbers[index] if numbers and 0 <= index < len(numbers) else index + 1

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        data["page_numbers"] = json.loads(data["page_numbers"]) if data["page_numbers"] else None
        return cls(**data)
