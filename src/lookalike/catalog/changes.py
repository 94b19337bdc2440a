"""The change log (what every index replays) and the state each shared index recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookalike.catalog.database import Database, Tx

__all__ = ["Change", "ChangeLog", "IndexStates"]

Change = tuple[int, int, str]  # (seq, image_id, op)


class ChangeLog:
    """Adds and removals of indexed images, in commit order."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def log(self, tx: Tx, changes: Sequence[tuple[int, str]], now: float) -> None:
        """Append (image id, op) rows, last thing before the commit of ``tx``."""
        if changes:
            self.db.lock_change_log(tx)
            tx.executemany(
                "INSERT INTO change(image_id, op, at) VALUES (?, ?, ?)", [(i, op, now) for i, op in changes]
            )

    def last_seq(self) -> int:
        return self.db.count("SELECT coalesce(max(seq), 0) FROM change")

    def since(self, seq: int, limit: int = 100_000) -> list[Change]:
        rows = self.db.all(
            "SELECT seq, image_id, op FROM change WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [(int(s), int(i), str(o)) for s, i, o in rows]


class IndexStates:
    """What each shared index recorded: backend, applied_seq, transform, count."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> dict[str, Any]:
        """The recorded state of index ``name`` (empty: nothing recorded)."""
        rows = self.db.rows(
            "SELECT backend, applied_seq, transform, count FROM index_state WHERE name = ?", (name,)
        )
        return rows[0] if rows else {}

    def put(self, name: str, backend: str, applied_seq: int, transform: str | None, count: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO index_state(name, backend, applied_seq, transform, count) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET backend = excluded.backend,"
                " applied_seq = excluded.applied_seq, transform = excluded.transform, count = excluded.count",
                (name, backend, applied_seq, transform, count),
            )
