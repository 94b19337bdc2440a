"""Whole tables row by row, ids kept: how ``lookalike migrate`` copies one catalog into another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookalike.catalog.database import Database
from lookalike.catalog.schema import TABLES

__all__ = ["Rows"]


class Rows:
    """Export and import of the tables in :data:`~lookalike.catalog.schema.TABLES`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def export(self, table: str, after: Any, limit: int) -> list[tuple[Any, ...]]:
        """Rows of ``table`` whose key is past ``after`` (None: from the start), in key order."""
        key, columns = TABLES[table]
        start = () if after is None else (after,)
        where = "" if after is None else f" WHERE {key} > ?"
        if table == "feature":  # many rows per image: whole images at a time, ``limit`` of them
            inner = (
                "SELECT id FROM image" + ("" if after is None else " WHERE id > ?") + " ORDER BY id LIMIT ?"
            )
            return self.db.all(
                f"SELECT {columns} FROM feature WHERE image_id IN ({inner}) ORDER BY image_id, signal, version",
                (*start, limit),
            )
        return self.db.all(f"SELECT {columns} FROM {table}{where} ORDER BY {key} LIMIT ?", (*start, limit))

    def import_(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows exported by :meth:`export`, keeping their ids; rows already here are kept."""
        _, columns = TABLES[table]
        marks = ",".join("?" * len(columns.split(",")))
        with self.db.transaction() as tx:
            tx.executemany(f"INSERT INTO {table}({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows)

    def after_import(self) -> None:
        """Make the next generated ids follow the imported ones."""
        self.db.after_import()
