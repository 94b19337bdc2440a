"""A reviewer's choices for groups of duplicates, made on the /dupes page and followed by the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from lookalike.catalog.database import Database

__all__ = ["CHOICES", "Choice", "DupeChoices", "group_key"]

#: What a reviewer may say of a group: keep the suggested image (no row), keep another one
#: (``keep``, with its id), keep them all, or that they are not duplicates at all.
CHOICES = ("suggested", "keep", "all", "different")


@dataclass(frozen=True)
class Choice:
    choice: str
    keep_id: int | None
    decided_at: float


def group_key(image_ids: Iterable[int]) -> str:
    """A group's name: its members' ids, sorted, joined by '-' (another member: another group)."""
    return "-".join(str(i) for i in sorted(set(image_ids)))


class DupeChoices:
    """One row per reviewed group; a group left at the suggestion has none."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, key: str, choice: str, keep_id: int | None = None) -> None:
        """Remember ``choice`` for the group ``key`` ('suggested' forgets an earlier one)."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM dupe_choice WHERE group_key = ?", (key,))
            if choice != "suggested":
                tx.execute(
                    "INSERT INTO dupe_choice(group_key, choice, keep_id, decided_at) VALUES (?, ?, ?, ?)",
                    (key, choice, keep_id, time.time()),
                )

    def all(self) -> dict[str, Choice]:
        rows = self.db.all("SELECT group_key, choice, keep_id, decided_at FROM dupe_choice")
        return {str(k): Choice(str(c), None if i is None else int(i), float(at)) for k, c, i, at in rows}
