"""Flags: what a flag signal (junk) said about an image, with the reason; results leave them out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lookalike.catalog.database import Database, Tx, chunks, marks

__all__ = ["Flags"]


class Flags:
    """One row per flagged image and flag (the signal's name), holding the reason."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def put(tx: Tx, image_id: int, flag: str, reason: str | None) -> None:
        """Set (``reason``) or clear (None) one flag of an image, inside ``tx``."""
        tx.execute("DELETE FROM image_flag WHERE image_id = ? AND flag = ?", (image_id, flag))
        if reason:
            tx.execute(
                "INSERT INTO image_flag(image_id, flag, reason) VALUES (?, ?, ?)", (image_id, flag, reason)
            )

    def replace(self, flag: str, reasons: Iterable[tuple[int, str | None]]) -> None:
        """:meth:`put` of many images in one transaction (a backfill)."""
        with self.db.transaction() as tx:
            for image_id, reason in reasons:
                self.put(tx, image_id, flag, reason)

    def ids(self, flags: Sequence[str]) -> set[int]:
        """Images that any of ``flags`` is raised on."""
        if not flags:
            return set()
        rows = self.db.all(f"SELECT DISTINCT image_id FROM image_flag WHERE flag IN ({marks(flags)})", flags)
        return {int(i) for (i,) in rows}

    def raised(self, flag: str) -> bool:
        """Whether ``flag`` is raised on any image (one indexed look-up)."""
        return bool(self.db.all("SELECT 1 FROM image_flag WHERE flag = ? LIMIT 1", (flag,)))

    def of(self, image_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """The flags raised on each of ``image_ids`` (flag -> reason); unflagged images are left out."""
        found: dict[int, dict[str, str]] = {}
        for chunk in chunks(list(image_ids)):
            sql = f"SELECT image_id, flag, reason FROM image_flag WHERE image_id IN ({marks(chunk)})"
            for image_id, flag, reason in self.db.all(sql, chunk):
                found.setdefault(int(image_id), {})[str(flag)] = str(reason)
        return found

    def counts(self) -> Mapping[str, dict[str, int]]:
        """Flagged images of each flag, by reason (most first)."""
        found: dict[str, dict[str, int]] = {}
        rows = self.db.all(
            "SELECT flag, reason, count(*) FROM image_flag GROUP BY flag, reason ORDER BY 1, 3 DESC, 2"
        )
        for flag, reason, n in rows:
            found.setdefault(str(flag), {})[str(reason)] = int(n)
        return found
