"""The catalog: the truth about images, where they were seen, and their features.

:class:`Catalog` is the behaviour; :class:`SqliteCatalog` (the embedded default)
and :class:`PostgresCatalog` (shared by many machines) are its two dialects.
"""

from __future__ import annotations

from pathlib import Path

from lookalike.catalog.base import Catalog, Change
from lookalike.catalog.sqlite import SqliteCatalog

__all__ = ["Catalog", "Change", "SqliteCatalog", "open_catalog"]

DEFAULT_FILE = "catalog.sqlite"


def open_catalog(where: str, home: Path) -> Catalog:
    """The catalog that the ``catalog`` setting names: '' (catalog.sqlite in ``home``), a SQLite
    file path (relative to ``home``), or a ``postgresql://`` URL."""
    if where.startswith(("postgresql://", "postgres://")):
        from lookalike.catalog.postgres import PostgresCatalog

        return PostgresCatalog(where)
    path = Path(where.removeprefix("sqlite://")) if where else Path(DEFAULT_FILE)
    return SqliteCatalog(path if path.is_absolute() else home / path)
