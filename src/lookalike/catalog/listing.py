"""The collection as a list: every usable image with when it was added, for browsing without a query."""

from __future__ import annotations

from lookalike.catalog.database import Database
from lookalike.records import ImageInfo

__all__ = ["Listing"]

_COLUMNS = "id, sha256, bytes, width, height, format, mode, status, reason, detail"


class Listing:
    """Usable images in id order, each with the time it was first added."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self) -> list[tuple[ImageInfo, float | None]]:
        """Every usable image and its ``added_at`` (seconds since the epoch), oldest id first."""
        rows = self.db.rows(f"SELECT {_COLUMNS}, added_at FROM image WHERE status = 'ok' ORDER BY id")
        return [
            (ImageInfo(**{k: v for k, v in row.items() if k != "added_at"}), row["added_at"]) for row in rows
        ]

    def version(self) -> tuple[object, ...]:
        """What changes whenever an image or a place is added, updated or removed (for caches)."""
        images = self.db.one("SELECT count(*), max(id) FROM image WHERE status = 'ok'") or ()
        places = self.db.one("SELECT count(*), max(id), max(seen_at) FROM occurrence") or ()
        return (*images, *places)
