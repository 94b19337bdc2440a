"""The catalog: the truth about images, where they were seen, their features and texts, the crawl
frontier, the job queue and the change log every index is derived from.

It is small repositories over one :class:`~lookalike.catalog.database.Database`, each owning
one kind of row; a use case that writes through several of them wraps the writes in
:meth:`Catalog.transaction`, which they all join.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from lookalike.catalog.changes import ChangeLog, IndexStates
from lookalike.catalog.copying import Rows
from lookalike.catalog.database import Database, Tx
from lookalike.catalog.features import Features
from lookalike.catalog.flags import Flags
from lookalike.catalog.frontier import Frontier
from lookalike.catalog.images import Images
from lookalike.catalog.jobs import Jobs
from lookalike.catalog.listing import Listing
from lookalike.catalog.scans import Scans
from lookalike.catalog.texts import Texts
from lookalike.catalog.thumbnails import CatalogThumbs

__all__ = ["Catalog"]


class Catalog:
    """The repositories of one collection, over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.changes = ChangeLog(db)
        self.index_states = IndexStates(db)
        self.features = Features(db, self.changes)
        self.images = Images(db, self.features, self.changes)
        self.texts = Texts(db)
        self.flags = Flags(db)
        self.scans = Scans(db)
        self.frontier = Frontier(db)
        self.jobs = Jobs(db)
        self.thumbnails = CatalogThumbs(db)
        self.rows = Rows(db)
        self.listing = Listing(db)

    @property
    def shared(self) -> bool:
        """Whether many machines may use this catalog at once (PostgreSQL)."""
        return self.db.shared

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def transaction(self) -> AbstractContextManager[Tx]:
        """One unit of work across repositories: everything written inside commits together."""
        return self.db.transaction()

    def lock(self, name: str) -> AbstractContextManager[None]:
        """A lock that every process using this catalog respects (a shared index's catch-up)."""
        return self.db.lock(name)

    def describe(self) -> str:
        """Where the catalog is, for people (no password)."""
        return self.db.describe()

    def stats(self) -> dict[str, Any]:
        last = self.db.rows(
            "SELECT id, roots, started_at, finished_at, counts FROM scan ORDER BY id DESC LIMIT 1"
        )
        return {
            **self.images.counts(),
            "features": self.features.by_signal(),
            "signal_failures": self.features.failure_counts(),
            "flags": self.flags.counts(),
            "last_change": self.changes.last_seq(),
            "last_scan": last[0] if last else None,
            "catalog_bytes": self.db.size_bytes(),
        }

    def close(self) -> None:
        self.db.close()
