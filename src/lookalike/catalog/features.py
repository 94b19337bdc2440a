"""Features: one row per image, signal and signal version; what every index is built from."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from lookalike.catalog.changes import ChangeLog
from lookalike.catalog.database import Database, Tx, chunks, marks

__all__ = ["Features"]


class Features:
    """Stored features by (image, signal, version); a new one is an ``add`` in the change log."""

    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db, self.changes = db, changes

    @staticmethod
    def put(
        tx: Tx,
        image_id: int,
        features: Mapping[str, tuple[int, bytes]],
        failed: Mapping[str, tuple[int, str]] | None = None,
    ) -> bool:
        """Store an image's features inside ``tx``, and the signals that failed on it with why
        (signal -> (version, detail)); returns whether any feature is new."""
        added = False
        for signal, (version, payload) in features.items():
            cur = tx.execute(
                "INSERT INTO feature(image_id, signal, version, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (image_id, signal, version, payload),
            )
            added = added or cur.rowcount == 1
        for signal, (version, detail) in (failed or {}).items():
            _record_failure(tx, image_id, signal, version, detail)
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

    def having(self, signal: str, version: int, image_ids: Iterable[int]) -> set[int]:
        """Those of ``image_ids`` that have a feature of this signal version."""
        found: set[int] = set()
        for chunk in chunks(image_ids):
            rows = self.db.all(
                f"SELECT image_id FROM feature WHERE signal = ? AND version = ? AND image_id IN ({marks(chunk)})",
                (signal, version, *chunk),
            )
            found.update(int(i) for (i,) in rows)
        return found

    def count(self, signal: str, version: int) -> int:
        return self.db.count(
            "SELECT count(*) FROM feature WHERE signal = ? AND version = ?", (signal, version)
        )

    def by_signal(self) -> dict[str, int]:
        """How many features each signal has stored (every version)."""
        return {
            str(s): int(n) for s, n in self.db.all("SELECT signal, count(*) FROM feature GROUP BY signal")
        }

    def missing(self, signal: str, version: int) -> list[int]:
        """Usable images that have no feature of this signal version (a backfill's work)."""
        rows = self.db.all(
            "SELECT id FROM image WHERE status = 'ok' AND id NOT IN"
            " (SELECT image_id FROM feature WHERE signal = ? AND version = ?) ORDER BY id",
            (signal, version),
        )
        return [int(i) for (i,) in rows]

    def add(
        self,
        signal: str,
        version: int,
        rows: Sequence[tuple[int, bytes]],
        failed: Sequence[tuple[int, str]] = (),
    ) -> int:
        """Store features of images already in the catalog (a backfill); each new one is a logged add.
        ``failed``: (image id, why) of the images the signal could not read."""
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
                tx.execute("DELETE FROM signal_failure WHERE image_id = ? AND signal = ?", (image_id, signal))
            for image_id, detail in failed:
                _record_failure(tx, image_id, signal, version, detail)
            self.changes.log(tx, added, now)
        return len(added)

    def failure_counts(self) -> dict[str, int]:
        """How many images each signal could not read."""
        rows = self.db.all("SELECT signal, count(*) FROM signal_failure GROUP BY signal ORDER BY signal")
        return {str(s): int(n) for s, n in rows}

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest images a signal could not read: image id, signal, detail and one place it is at."""
        return self.db.rows(
            "SELECT f.image_id, f.signal, f.detail,"
            " (SELECT min(o.uri) FROM occurrence o WHERE o.image_id = f.image_id) AS uri"
            " FROM signal_failure f ORDER BY f.at DESC, f.image_id LIMIT ?",
            (limit,),
        )

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


def _record_failure(tx: Tx, image_id: int, signal: str, version: int, detail: str) -> None:
    """Record that ``signal`` could not read an image, and why (the latest try wins)."""
    tx.execute(
        "INSERT INTO signal_failure(image_id, signal, version, detail, at)"
        " SELECT id, ?, ?, ?, ? FROM image WHERE id = ?"
        " ON CONFLICT(image_id, signal) DO UPDATE SET version = excluded.version,"
        " detail = excluded.detail, at = excluded.at",
        (signal, version, detail, time.time(), image_id),
    )
