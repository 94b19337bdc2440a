"""The embedded default: the catalog in one SQLite file."""

from lookalike.catalog.sqlite.database import SqliteDatabase

__all__ = ["SqliteDatabase"]
