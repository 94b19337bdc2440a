"""The catalog: the truth about images, where they were seen, and their features.

:class:`Catalog` holds one repository per concern over a
:class:`~lookalike.catalog.database.Database`: SQLite (the embedded default,
:mod:`.sqlite`) or PostgreSQL (shared by many machines, :mod:`.postgres`).
"""

from __future__ import annotations

from pathlib import Path

from lookalike.catalog.catalog import Catalog
from lookalike.catalog.changes import Change
from lookalike.catalog.database import Database

__all__ = ["DEFAULT_FILE", "Catalog", "Change", "Database", "connect", "exists", "open_catalog"]

DEFAULT_FILE = "catalog.sqlite"


def connect(where: str, home: Path, migrate: bool = True) -> Database:
    """The database that the ``catalog`` setting names: '' (catalog.sqlite in ``home``), a SQLite
    file path (relative to ``home``), or a ``postgresql://`` URL.  ``migrate`` off: a check that
    must not change a PostgreSQL database."""
    if where.startswith(("postgresql://", "postgres://")):
        from lookalike.catalog.postgres import PostgresDatabase

        return PostgresDatabase(where, migrate=migrate)
    from lookalike.catalog.sqlite import SqliteDatabase

    path = Path(where.removeprefix("sqlite://")) if where else Path(DEFAULT_FILE)
    return SqliteDatabase(path if path.is_absolute() else home / path)


def exists(where: str, home: Path) -> bool:
    """Whether the catalog that ``where`` names is there already: a SQLite file that exists, or a
    server (a PostgreSQL catalog is shared, and its server says whether it holds one)."""
    if "://" in where and not where.startswith("sqlite://"):
        return True
    path = Path(where.removeprefix("sqlite://")) if where else Path(DEFAULT_FILE)
    return (path if path.is_absolute() else home / path).is_file()


def open_catalog(where: str, home: Path) -> Catalog:
    """The catalog that the ``catalog`` setting names (see :func:`connect`)."""
    return Catalog(connect(where, home))
