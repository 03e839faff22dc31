"""Who works on a job: a lease in its row, held by one process (host, pid and a per-process nonce) and renewed
by its heartbeat. A lease is free when it has expired or when its owner process on this host is gone (so a
SIGKILL'd server's jobs are picked up at once by the next process).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from contextlib import AbstractContextManager

from ..errors import JobError
from .job import Job

LEASE_SECONDS = 30.0


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_NONCE}"


_PROCESS_NONCE = uuid.uuid4().hex[:8]


def _owner_alive(owner: str) -> bool:
    try:
        host, pid_text, _nonce = owner.split(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True  # another host: trust the lease's expiry only
    if pid == os.getpid():
        return owner == _owner_id()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Leases:
    """The lease half of `JobStore` (its transactions come from the store)."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def claim(self, job_id: str, seconds: float = LEASE_SECONDS) -> bool:
        """Take the job's lease for this process. False when another live process holds it."""
        me = _owner_id()
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                "SELECT lease_owner, lease_until, status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise JobError(f"no job with id {job_id!r}")
            owner, until = row["lease_owner"], row["lease_until"]
            free = owner is None or owner == me or (until or 0) < now or not _owner_alive(owner)
            if not free:
                return False
            db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?", (me, now + seconds, job_id)
            )
            return True

    def renew(self, job_id: str, seconds: float = LEASE_SECONDS) -> bool:
        me = _owner_id()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (time.time() + seconds, job_id, me),
            )
            return cur.rowcount == 1

    def release(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (job_id, _owner_id()),
            )

    def lease_held_elsewhere(self, job: Job) -> bool:
        if job.lease_owner is None or job.lease_owner == _owner_id():
            return False
        return (job.lease_until or 0) >= time.time() and _owner_alive(job.lease_owner)
