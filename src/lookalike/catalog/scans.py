"""Indexing runs and the files they saw: what makes a re-scan skip unchanged files and retire gone ones."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from lookalike.catalog.database import Database, chunks, marks

__all__ = ["Scans"]


class Scans:
    """Scans (one per indexing run) and ``file_state`` (files wholly indexed, with size and mtime, or
    for objects in a bucket size and ETag)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, roots: Sequence[str]) -> int:
        with self.db.transaction() as tx:
            row = tx.execute(
                "INSERT INTO scan(roots, started_at) VALUES (?, ?) RETURNING id",
                (json.dumps(list(roots)), time.time()),
            ).fetchone()
            return int(row[0])

    def finish(self, scan_id: int, counts: dict[str, int]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE scan SET finished_at = ?, counts = ? WHERE id = ?",
                (time.time(), json.dumps(counts), scan_id),
            )

    def unchanged(self, path: str, size: int, mtime: float, etag: str | None = None) -> bool:
        """Whether ``path`` was wholly indexed with this size and mtime (with an ``etag``: this size
        and ETag, whatever the time)."""
        row = self.db.one("SELECT size, mtime, etag FROM file_state WHERE path = ?", (path,))
        if row is None or row[0] != size:
            return False
        return bool(row[2] == etag if etag is not None else row[1] == mtime)

    def mark_seen(self, paths: Sequence[str], scan_id: int) -> None:
        """Keep unchanged files (and every member of unchanged archives) alive in this scan."""
        if not paths:
            return
        with self.db.transaction() as tx:
            tx.executemany("UPDATE file_state SET scan_id = ? WHERE path = ?", [(scan_id, p) for p in paths])
            tx.executemany("UPDATE occurrence SET scan_id = ? WHERE file = ?", [(scan_id, p) for p in paths])

    def files_done(self, files: Sequence[tuple[str, int, float, str | None]], scan_id: int) -> None:
        """Remember files (path, size, mtime, ETag or None) as fully indexed: in the caller's
        transaction, the batch that recorded them commits them, so a killed run resumes exactly."""
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO file_state(path, size, mtime, etag, scan_id) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
                "etag = excluded.etag, scan_id = excluded.scan_id",
                [(path, size, mtime, etag, scan_id) for path, size, mtime, etag in files],
            )

    def states(self, paths: Sequence[str]) -> dict[str, tuple[int, float]]:
        """The (size, mtime) each of ``paths`` was wholly indexed with, for those that were."""
        found: dict[str, tuple[int, float]] = {}
        for chunk in chunks(list(set(paths))):
            for path, size, mtime in self.db.all(
                f"SELECT path, size, mtime FROM file_state WHERE path IN ({marks(chunk)})", chunk
            ):
                found[str(path)] = (int(size), float(mtime))
        return found

    def unseen(self, root: str, scan_id: int) -> list[tuple[str, int, float]]:
        """The files (path, size, mtime) at or under ``root`` that scan ``scan_id`` has not marked."""
        prefix = root.rstrip("/") + "/"
        rows = self.db.all(
            "SELECT path, size, mtime FROM file_state WHERE (path = ? OR substr(path, 1, ?) = ?)"
            " AND coalesce(scan_id, -1) != ?",
            (root, len(prefix), prefix, scan_id),
        )
        return [(str(path), int(size), float(mtime)) for path, size, mtime in rows]

    def move(self, old: str, new: str) -> None:
        """The file at ``old`` is now at ``new`` (one that was at ``new`` is replaced)."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM file_state WHERE path = ?", (new,))
            tx.execute("UPDATE file_state SET path = ? WHERE path = ?", (new, old))

    def forget_files(self, paths: Sequence[str]) -> None:
        """Drop the file states of ``paths`` (exact paths, a lookup each)."""
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM file_state WHERE path = ?", [(p,) for p in paths])

    def forget(self, root: str, before_scan: int | None = None) -> None:
        """Drop the file states at or under ``root`` (only those not seen by ``before_scan``, if given)."""
        prefix = root.rstrip("/") + "/"
        stale = "" if before_scan is None else " AND coalesce(scan_id, -1) != ?"
        params = (root, len(prefix), prefix) + (() if before_scan is None else (before_scan,))
        with self.db.transaction() as tx:
            tx.execute(f"DELETE FROM file_state WHERE (path = ? OR substr(path, 1, ?) = ?){stale}", params)

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest indexing runs, newest first: roots, start and finish times, counts."""
        rows = self.db.rows(
            "SELECT id, roots, started_at, finished_at, counts FROM scan ORDER BY id DESC LIMIT ?", (limit,)
        )
        for row in rows:
            row["roots"] = json.loads(row["roots"])
            row["counts"] = json.loads(row["counts"]) if row["counts"] else None
        return rows
