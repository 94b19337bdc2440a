"""The crawl frontier: every URL a crawl found, with its state, so a killed crawl resumes."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from lookalike.catalog.database import Database, marks
from lookalike.records import CrawlUrl

__all__ = ["Frontier"]

_COLUMNS = (
    "url, kind, depth, state, attempts, last_error, etag, last_modified, sha256, page_url, title, metadata"
)


class Frontier:
    """Crawl URLs: pending, done (with validators for a re-crawl) or failed (with the error)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, urls: Sequence[CrawlUrl]) -> int:
        """Add URLs not seen before (a known URL keeps its state); returns how many were new."""
        now, added = time.time(), 0
        with self.db.transaction() as tx:
            for u in urls:
                cur = tx.execute(
                    "INSERT INTO crawl_url(url, kind, depth, page_url, title, metadata, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
                    (
                        u.url,
                        u.kind,
                        u.depth,
                        u.page_url,
                        u.title,
                        json.dumps(dict(u.metadata)) if u.metadata else None,
                        now,
                    ),
                )
                added += cur.rowcount
        return added

    def claim(
        self, limit: int, kinds: Sequence[str] = ("page", "file"), lease: float = 0.0
    ) -> list[CrawlUrl]:
        """The next pending URLs in the order they were found, each counted as one more attempt.

        They stay pending until marked done or failed: a crawl killed while holding
        them fetches them again when it runs next.  With a ``lease`` (seconds) no other
        claim takes them until it expires, so many workers share one frontier.
        """
        with self.db.transaction() as tx:
            rows = self.db.lease(tx, "crawl_url", kinds, limit, lease, _COLUMNS)
        names = [c.strip() for c in _COLUMNS.split(",")]
        return [
            _crawl_url(dict(zip(names, row[1:], strict=True))) for row in sorted(rows, key=lambda r: r[0])
        ]

    def release(self, urls: Sequence[str] | None = None) -> None:
        """End the leases of ``urls`` (claimed but left for later), or of every URL."""
        with self.db.transaction() as tx:
            if urls is None:
                tx.execute("UPDATE crawl_url SET lease_until = NULL WHERE lease_until IS NOT NULL")
            else:
                tx.executemany("UPDATE crawl_url SET lease_until = NULL WHERE url = ?", [(u,) for u in urls])

    def done(
        self, url: str, etag: str | None = None, last_modified: str | None = None, sha256: str | None = None
    ) -> None:
        """Mark a URL done; validators and content hash are kept for the next re-crawl."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE crawl_url SET state = 'done', last_error = NULL, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), sha256 = coalesce(?, sha256),"
                " lease_until = NULL, updated_at = ? WHERE url = ?",
                (etag, last_modified, sha256, time.time(), url),
            )

    def failed(self, url: str, error: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE crawl_url SET state = 'failed', last_error = ?, lease_until = NULL, updated_at = ?"
                " WHERE url = ?",
                (error, time.time(), url),
            )

    def reset(self, states: Sequence[str] = ("done", "failed")) -> int:
        """Make URLs in ``states`` pending again (a re-crawl); returns how many."""
        with self.db.transaction() as tx:
            cur = tx.execute(
                f"UPDATE crawl_url SET state = 'pending', attempts = 0, lease_until = NULL, updated_at = ?"
                f" WHERE state IN ({marks(states)})",
                (time.time(), *states),
            )
            return cur.rowcount

    def get(self, url: str) -> CrawlUrl | None:
        rows = self.db.rows(f"SELECT {_COLUMNS} FROM crawl_url WHERE url = ?", (url,))
        return _crawl_url(rows[0]) if rows else None

    def counts(self) -> dict[str, dict[str, int]]:
        """URLs by kind and state: ``{"page": {"pending": 3, "done": 10, "failed": 1}, "file": {...}}``."""
        counts = {kind: dict.fromkeys(("pending", "done", "failed"), 0) for kind in ("page", "file")}
        for kind, state, n in self.db.all("SELECT kind, state, count(*) FROM crawl_url GROUP BY kind, state"):
            counts[kind][state] = int(n)
        return counts

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.db.rows(
            "SELECT url, kind, attempts, last_error FROM crawl_url WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )


def _crawl_url(row: dict[str, Any]) -> CrawlUrl:
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return CrawlUrl(**row)
