"""Features: one row per image, signal and signal version; what every index is built from."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from lookalike.catalog.changes import ChangeLog
from lookalike.catalog.database import Database, Tx, chunks, marks

__all__ = ["Features"]


class Features:
    """Stored features by (image, signal, version); a new one is an ``add`` in the change log."""

    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db, self.changes = db, changes

    @staticmethod
    def put(tx: Tx, image_id: int, features: Mapping[str, tuple[int, bytes]]) -> bool:
        """Store an image's features inside ``tx``; returns whether any of them is new."""
        added = False
        for signal, (version, payload) in features.items():
            cur = tx.execute(
                "INSERT INTO feature(image_id, signal, version, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (image_id, signal, version, payload),
            )
            added = added or cur.rowcount == 1
        return added

    def get(self, signal: str, version: int, image_ids: Iterable[int]) -> dict[int, bytes]:
        found = {}
        for chunk in chunks(image_ids):
            rows = self.db.all(
                f"SELECT image_id, data FROM feature WHERE signal = ? AND version = ?"
                f" AND image_id IN ({marks(chunk)})",
                (signal, version, *chunk),
            )
            found.update({int(i): bytes(d) for i, d in rows})
        return found

    def count(self, signal: str, version: int) -> int:
        return self.db.count("SELECT count(*) FROM feature WHERE signal = ? AND version = ?", (signal, version))

    def by_signal(self) -> dict[str, int]:
        """How many features each signal has stored (every version)."""
        return {str(s): int(n) for s, n in self.db.all("SELECT signal, count(*) FROM feature GROUP BY signal")}

    def missing(self, signal: str, version: int) -> list[int]:
        """Usable images that have no feature of this signal version (a backfill's work)."""
        rows = self.db.all(
            "SELECT id FROM image WHERE status = 'ok' AND id NOT IN"
            " (SELECT image_id FROM feature WHERE signal = ? AND version = ?) ORDER BY id",
            (signal, version),
        )
        return [int(i) for (i,) in rows]

    def add(self, signal: str, version: int, rows: Sequence[tuple[int, bytes]]) -> int:
        """Store features of images already in the catalog (a backfill); each new one is a logged add."""
        now, added = time.time(), []
        with self.db.transaction() as tx:
            for image_id, payload in rows:
                cur = tx.execute(
                    "INSERT INTO feature(image_id, signal, version, data)"
                    " SELECT id, ?, ?, ? FROM image WHERE id = ? ON CONFLICT DO NOTHING",
                    (signal, version, payload, image_id),
                )
                if cur.rowcount == 1:
                    added.append((image_id, "add"))
            self.changes.log(tx, added, now)
        return len(added)

    def iterate(self, signal: str, version: int, batch: int = 20_000) -> Iterator[list[tuple[int, bytes]]]:
        """Every stored feature of a signal of usable images, in id order, a batch at a time."""
        last = -1
        while True:
            rows = self.db.all(
                "SELECT f.image_id, f.data FROM feature f JOIN image i ON i.id = f.image_id"
                " WHERE f.signal = ? AND f.version = ? AND f.image_id > ? AND i.status = 'ok'"
                " ORDER BY f.image_id LIMIT ?",
                (signal, version, last, batch),
            )
            if not rows:
                return
            yield [(int(i), bytes(d)) for i, d in rows]
            last = int(rows[-1][0])
