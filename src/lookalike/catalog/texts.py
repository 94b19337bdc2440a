"""Words about images: the metadata of each place (title, text, tags, links) and keyword search."""

from __future__ import annotations

from collections.abc import Sequence

from lookalike.catalog.database import Database
from lookalike.catalog.images import metadata_columns
from lookalike.records import Provenance

__all__ = ["Texts"]


class Texts:
    """Metadata set on places after they were recorded, and full-text search over all of it."""

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

    def search(self, text: str, limit: int = 1000) -> list[tuple[int, float]]:
        """Images whose names, paths, URLs, titles, tags or text match, best first.

        All words must match; when nothing does, any word may.  Larger scores are better.
        """
        return self.db.keyword_search(text, limit)
