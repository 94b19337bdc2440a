"""The job queue that workers on many machines share (files to index, signals to backfill, crawls to run)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from lookalike.catalog.database import Database
from lookalike.records import Job

__all__ = ["Jobs"]


class Jobs:
    """Jobs by (kind, key): pending (held under a lease or not), done or failed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, kind: str, items: Sequence[tuple[str, dict[str, Any] | None]]) -> int:
        """Queue jobs by key; a finished job with the same key is queued again.  Returns how many."""
        now = time.time()
        with self.db.transaction() as tx:
            cur = tx.executemany(
                "INSERT INTO job(kind, key, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(kind, key) DO UPDATE SET state = 'pending', attempts = 0,"
                " payload = excluded.payload, last_error = NULL, lease_until = NULL,"
                " updated_at = excluded.updated_at WHERE job.state != 'pending'",
                [(kind, key, json.dumps(payload) if payload else None, now, now) for key, payload in items],
            )
            return int(cur.rowcount) if items else 0  # the total over every row, on both dialects

    def claim(
        self, worker: str, kinds: Sequence[str], limit: int, lease: float, max_attempts: int = 5
    ) -> list[Job]:
        """Take up to ``limit`` pending jobs no one holds, for ``lease`` seconds.

        Concurrent claims never take the same job (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL, one writer on SQLite).  A job whose worker died is taken again once
        its lease expires; one taken more than ``max_attempts`` times fails instead (and
        is not returned).  The claim reads the job index in order and stops at ``limit``.
        """
        with self.db.transaction() as tx:
            held_by = {"worker": worker, "updated_at": time.time()}
            rows = self.db.lease(tx, "job", kinds, limit, lease, "kind, key, payload, attempts", held_by)
            spent = [(int(r[0]),) for r in rows if int(r[4]) > max_attempts]
            tx.executemany(
                f"UPDATE job SET state = 'failed', lease_until = NULL, last_error ="
                f" coalesce(last_error, 'its worker stopped') || ' (gave up after {max_attempts} attempts)'"
                f" WHERE id = ?",
                spent,
            )
        return [_job(row) for row in sorted(rows, key=lambda r: int(r[0])) if int(row[4]) <= max_attempts]

    def left(self) -> bool:
        """Whether any job is pending (held by a worker or not)."""
        return self.db.one("SELECT 1 FROM job WHERE state = 'pending' LIMIT 1") is not None

    def extend(self, ids: Sequence[int], worker: str, lease: float) -> int:
        """Renew the leases ``worker`` holds on ``ids`` (a heartbeat); returns how many it still held."""
        until = time.time() + lease
        with self.db.transaction() as tx:
            return sum(
                tx.execute(
                    "UPDATE job SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'pending'",
                    (until, i, worker),
                ).rowcount
                for i in ids
            )

    def finish(self, ids: Sequence[int], error: str | None = None) -> None:
        """Mark jobs done, or failed with ``error``."""
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE job SET state = ?, last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
                [("failed" if error else "done", error, time.time(), i) for i in ids],
            )

    def pending(self, kind: str) -> list[Job]:
        """Pending jobs of a kind, held or not (a crawl job is worked on by many workers at once)."""
        rows = self.db.all(
            "SELECT id, kind, key, payload, attempts FROM job WHERE state = 'pending' AND kind = ? ORDER BY id",
            (kind,),
        )
        return [_job(row) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """Jobs by kind and state, with 'running' for pending jobs under a live lease."""
        counts = {
            kind: dict.fromkeys(("pending", "running", "done", "failed"), 0)
            for kind in ("file", "backfill", "crawl")
        }
        for kind, state, n in self.db.all(
            "SELECT kind, CASE WHEN state = 'pending' AND lease_until > ? THEN 'running' ELSE state END,"
            " count(*) FROM job GROUP BY 1, 2",
            (time.time(),),
        ):
            counts[kind][state] = int(n)
        return counts

    def failures(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.db.rows(
            "SELECT kind, key, attempts, last_error FROM job WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )


def _job(row: Sequence[Any]) -> Job:
    job_id, kind, key, payload, attempts = row
    return Job(int(job_id), str(kind), str(key), json.loads(payload) if payload else {}, int(attempts))
