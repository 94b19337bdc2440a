"""Keyword search on SQLite: BM25 over the FTS5 table of places (name, path, URL, title, tags, text)."""

from __future__ import annotations

import re
import sqlite3

from lookalike.catalog.database import Database

__all__ = ["fts5_available", "keyword_search", "version"]


def keyword_search(db: Database, text: str, limit: int) -> list[tuple[int, float]]:
    """BM25 over FTS5; scores are the negated rank.  Words are quoted, never SQL."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return []
    for joiner in (" AND ", " OR "):
        query = joiner.join(f'"{w}"' for w in words)
        rows = db.all(
            "WITH hit AS MATERIALIZED (SELECT rowid, -bm25(occurrence_fts, 1.0, 4.0, 3.0, 2.0)"
            "  AS score FROM occurrence_fts WHERE occurrence_fts MATCH ?)"
            " SELECT o.image_id, max(hit.score) AS best FROM hit"
            " JOIN occurrence o ON o.id = hit.rowid"
            " JOIN image i ON i.id = o.image_id AND i.status = 'ok'"
            " GROUP BY o.image_id ORDER BY best DESC, o.image_id LIMIT ?",
            (query, limit),
        )
        if rows or len(words) == 1:
            return [(int(i), float(s)) for i, s in rows]
    return []


def version() -> str:
    """The version of the SQLite library Python links."""
    return sqlite3.sqlite_version


def fts5_available() -> bool:
    """Whether this SQLite has FTS5 (keyword search needs it)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.Error:
        return False
    return True
