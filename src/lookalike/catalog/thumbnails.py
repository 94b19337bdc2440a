"""Thumbnails made at ingest (:mod:`lookalike.ingest.thumbnails`), kept by content hash in
``thumbs.sqlite`` in the data folder.  Small blobs in one SQLite file write in microseconds
where one file each cost over a millisecond (a folder, a write, a rename).
A shared catalog (PostgreSQL) keeps them in its own table, where every machine sees them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from lookalike.catalog.database import Database

__all__ = ["CatalogThumbs", "ThumbStore", "Thumbs"]


class ThumbStore:
    """Thumbnails by content hash in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS thumb (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID"
        )

    def put(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store thumbnails (sha256, bytes); ones already stored are kept."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO thumb(sha256, data) VALUES (?, ?)", items)
            self._db.execute("COMMIT")

    def get(self, sha256: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM thumb WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def items(self, batch: int = 1000) -> Iterator[list[tuple[str, bytes]]]:
        """Every thumbnail, a batch at a time (a copy to another store)."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT sha256, data FROM thumb WHERE sha256 > ? ORDER BY sha256 LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            yield [(str(s), bytes(d)) for s, d in rows]
            last = rows[-1][0]

    def close(self) -> None:
        self._db.close()


class CatalogThumbs:
    """Thumbnails in the catalog itself, for a catalog that many machines share (PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, items: Iterable[tuple[str, bytes]]) -> None:
        rows = list(items)
        if rows:
            with self.db.transaction() as tx:
                tx.executemany(
                    "INSERT INTO thumbnail(sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING", rows
                )

    def get(self, sha256: str) -> bytes | None:
        row = self.db.one("SELECT data FROM thumbnail WHERE sha256 = ?", (sha256,))
        return bytes(row[0]) if row else None

    def items(self, batch: int = 1000) -> Iterator[list[tuple[str, bytes]]]:
        """Every thumbnail, a batch at a time (a copy to another store)."""
        last = ""
        while rows := self._page(last, batch):
            yield rows
            last = rows[-1][0]

    def _page(self, after: str, limit: int) -> list[tuple[str, bytes]]:
        rows = self.db.all(
            "SELECT sha256, data FROM thumbnail WHERE sha256 > ? ORDER BY sha256 LIMIT ?", (after, limit)
        )
        return [(str(sha), bytes(data)) for sha, data in rows]

    def close(self) -> None:
        pass  # the catalog closes its database


Thumbs = ThumbStore | CatalogThumbs
