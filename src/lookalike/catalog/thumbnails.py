"""Thumbnails made at ingest, kept by content hash in ``thumbs.sqlite`` in the data folder.

Photos become JPEG (a tenth of a millisecond to encode, against about five for
WebP at a similar size).  Pixel art stays at its own size as PNG: a 16x16 sprite
is a hundred bytes, and a page shows it enlarged with ``image-rendering: pixelated``,
crisp rather than blurred.  Small blobs in one SQLite file write in microseconds
where one file each cost over a millisecond (a folder, a write, a rename).
A shared catalog (PostgreSQL) keeps them in its own table, where every machine sees them.
"""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image

from lookalike.catalog import Catalog
from lookalike.decode import DecodedImage

__all__ = ["CatalogThumbs", "ThumbStore", "Thumbs", "render"]


def render(image: DecodedImage, size: int) -> bytes:
    """A JPEG thumbnail whose long side is about ``size`` (at most 1.25 times); small images as PNG."""
    picture = image.image
    buffer = io.BytesIO()
    if max(picture.size) * 2 <= size:
        picture.save(buffer, "PNG")
    else:
        if max(picture.size) > size * 1.25:  # a decode reduced near the size is kept as it is
            picture = picture.copy()
            picture.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


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

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def put(self, items: Iterable[tuple[str, bytes]]) -> None:
        self.catalog.put_thumbnails(items)

    def get(self, sha256: str) -> bytes | None:
        return self.catalog.thumbnail(sha256)

    def items(self, batch: int = 1000) -> Iterator[list[tuple[str, bytes]]]:
        """Every thumbnail, a batch at a time (a copy to another store)."""
        last = ""
        while rows := self.catalog.thumbnails(last, batch):
            yield rows
            last = rows[-1][0]

    def close(self) -> None:
        pass  # the catalog closes itself


Thumbs = ThumbStore | CatalogThumbs
