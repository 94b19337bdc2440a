"""Words about images: the metadata of each place (title, text, tags, links) and keyword search."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lookalike.catalog.database import Database, Tx
from lookalike.records import Provenance, TextField

__all__ = ["Texts", "metadata_columns"]


class Texts:
    """Metadata set on places after they were recorded, the text signals read from each image,
    and full-text search over all of it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def annotate(self, uri: str, where: Provenance) -> bool:
        """Set metadata (title, text, tags, links, extra) of the occurrence at ``uri``."""
        return bool(self.annotate_many([(uri, where)]))

    def annotate_many(self, items: Sequence[tuple[str, Provenance]]) -> set[str]:
        """:meth:`annotate` for many places in one transaction; returns the uris that were found."""
        found = set()
        with self.db.transaction() as tx:
            for uri, where in items:
                cur = tx.execute(
                    "UPDATE occurrence SET url = coalesce(?, url), page_url = coalesce(?, page_url),"
                    " title = coalesce(?, title), text = coalesce(?, text), tags = coalesce(?, tags),"
                    " extra = coalesce(?, extra) WHERE uri = ?",
                    (*metadata_columns(where), uri),
                )
                if cur.rowcount > 0:
                    found.add(uri)
        return found

    @staticmethod
    def put(tx: Tx, image_id: int, signal: str, fields: Sequence[TextField]) -> None:
        """Replace what ``signal`` read from an image with ``fields``, inside ``tx``."""
        tx.execute("DELETE FROM image_text WHERE image_id = ? AND signal = ?", (image_id, signal))
        tx.executemany(
            "INSERT INTO image_text(image_id, signal, field, text, confidence) VALUES (?, ?, ?, ?, ?)",
            [(image_id, signal, f.field, f.text, f.confidence) for f in fields if f.text.strip()],
        )

    def replace(self, image_id: int, signal: str, fields: Sequence[TextField]) -> None:
        """:meth:`put` in a transaction of its own (a backfill)."""
        with self.db.transaction() as tx:
            self.put(tx, image_id, signal, fields)

    def of(self, image_id: int) -> list[tuple[str, TextField]]:
        """Everything the text signals read from an image: (signal, field) pairs."""
        rows = self.db.all(
            "SELECT signal, field, text, confidence FROM image_text WHERE image_id = ? ORDER BY id", (image_id,)
        )
        return [(str(s), TextField(str(f), str(t), float(c))) for s, f, t, c in rows]

    def search(self, text: str, limit: int = 1000) -> list[tuple[int, float]]:
        """Images whose names, paths, URLs, titles, tags, text or read texts match, best first.

        All words must match; when nothing does, any word may.  Larger scores are better.
        """
        return self.db.keyword_search(text, limit)


def metadata_columns(where: Provenance) -> tuple[str | None, ...]:
    """url, page_url, title, text, tags (JSON), extra (JSON): the columns a place's metadata fills."""
    tags = json.dumps(list(where.tags)) if where.tags else None
    extra = json.dumps(dict(where.extra)) if where.extra else None
    return (where.url, where.page_url, where.title, where.text, tags, extra)
